// Launches survive a restart at the worst moment, and a launch directory holds one active run: the API stopping
// between creating a run and recording its launch leaves neither a stranded QUEUED run nor a second Nextflow, and
// two concurrent relaunches of a run cannot share its directory.
import { appendFile, chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { platformFor } from './helpers.js';

/**
 * Stands in for `nextflow run` (what is tested is the platform's bookkeeping, not Nextflow): records each start in
 * a log, hands its per-run token to the test, and runs until the test writes `end` in the launch directory.
 */
async function fakeNextflow(): Promise<{ bin: string; starts: () => Promise<string[]> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-nf-'));
  const log = path.join(dir, 'starts.log');
  await appendFile(log, '');
  const bin = path.join(dir, 'nextflow');
  await writeFile(
    bin,
    `#!/bin/sh
echo "$$ $SCRNA_RUN_ID" >> '${log}'
printf '%s' "$SCRNA_API_TOKEN" > "token-$SCRNA_RUN_ID"
i=0; while [ ! -f end ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
rm -f end
exit 0
`,
  );
  await chmod(bin, 0o755);
  return { bin, starts: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
}

type P = Awaited<ReturnType<typeof platformFor>>;
const getRun = async (p: P, id: string) => (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
async function until<T>(what: string, f: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await f();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('a launch the API did not get to record is adopted on restart, not started twice', async (t) => {
  const nf = await fakeNextflow();
  const p = await platformFor(t, { nextflowBin: nf.bin });
  const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'] } })).json();
  await until('the start', async () => (await nf.starts()).length === 1);
  const pid = Number(run.nativeId.split('@')[0]);
  // The crash window: Nextflow is running, the run row does not know it.
  // Old enough to be an interrupted launch, not one in progress in another API process.
  await p.pool.query(`UPDATE runs SET native_id = NULL, status = 'QUEUED', created_at = now() - interval '5 minutes' WHERE id = $1`, [
    run.id,
  ]);
  await p.runs.recover();
  const after = await getRun(p, run.id);
  t.equal(after.status, 'SUBMITTED');
  t.equal(Number(after.nativeId.split('@')[0]), pid, 'the running Nextflow is adopted');
  t.equal((await nf.starts()).length, 1, 'no second Nextflow');
  await writeFile(path.join(run.launchDir, 'end'), '');
  await until('COMPLETED', async () => (await getRun(p, run.id)).status === 'COMPLETED');
  t.equal((await getRun(p, run.id)).exitStatus, 0, 'the adopted run finishes with its own exit status');
});

t.test('a launch that never happened is started on restart, with a token that works', async (t) => {
  const nf = await fakeNextflow();
  const p = await platformFor(t, { nextflowBin: nf.bin });
  // The crash window one step earlier: the run row exists, nothing was spawned.
  const id = crypto.randomUUID();
  const dir = path.join(p.dataDir, 'runs', id);
  await p.repos.runs.create({
    id,
    name: 'stranded',
    status: 'QUEUED',
    source: 'platform',
    profiles: ['test'],
    launcher: 'local',
    launchDir: dir,
    outdir: path.join(dir, 'results'),
    tokenHash: 'the-lost-token-hash',
  });
  await p.pool.query(`UPDATE runs SET created_at = now() - interval '5 minutes' WHERE id = $1`, [id]);
  await p.runs.recover();
  t.equal((await getRun(p, id)).status, 'SUBMITTED', 'no longer stranded in QUEUED');
  await until('the start', async () => (await nf.starts()).length === 1);
  const token = await until('the token', () => readFile(path.join(dir, `token-${id}`), 'utf8').catch(() => null));
  const ev = { runName: 'late_start', runId: '77777777-2222-4333-8444-555555555555', event: 'started', utcTime: new Date().toISOString() };
  const posted = await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: ev, headers: { authorization: `Bearer ${token}` } });
  t.equal(posted.statusCode, 202, "the new launch's token is the run's token");
  await writeFile(path.join(dir, 'end'), '');
  await until('COMPLETED', async () => (await getRun(p, id)).status === 'COMPLETED');
});

t.test('two concurrent relaunches of one run: one starts, the other is refused', async (t) => {
  const nf = await fakeNextflow();
  const p = await platformFor(t, { nextflowBin: nf.bin });
  const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'] } })).json();
  await until('the start', async () => (await nf.starts()).length === 1);
  await writeFile(path.join(run.launchDir, 'end'), '');
  await until('COMPLETED', async () => (await getRun(p, run.id)).status === 'COMPLETED');
  const relaunch = () => p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/relaunch` });
  const answers = await Promise.all([relaunch(), relaunch()]);
  t.same(answers.map((r) => r.statusCode).sort(), [201, 409], 'one relaunch, one 409');
  t.match(answers.find((r) => r.statusCode === 409)!.json().message, /another run is active in this launch directory/);
  await until('one new start', async () => (await nf.starts()).length === 2);
  await writeFile(path.join(run.launchDir, 'end'), '');
  const started = answers.find((r) => r.statusCode === 201)!.json();
  await until('the relaunch to finish', async () => (await getRun(p, started.id)).status === 'COMPLETED');
  t.equal((await nf.starts()).length, 2, 'exactly one relaunch ran');
});
