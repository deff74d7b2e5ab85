// The scrna CLI against a listening API: trace import, events replay of a plugin spool, runs, status, logs, submit.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
import { fixtures, platformFor } from './helpers.js';

const scrna = path.join(repoRoot, 'api/bin/scrna.js');

t.test('scrna CLI', async (t) => {
  const p = await platformFor(t);
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'cli' } })).json().token;
  const dir = await mkdtemp(path.join(tmpdir(), 'scrna-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cli = async (...args: string[]) => {
    const r = await run('node', [scrna, ...args], { env: { SCRNA_API_URL: url, SCRNA_API_TOKEN: token } });
    return { ...r, json: () => JSON.parse(r.stdout) };
  };

  const imported = await cli(
    'trace',
    'import',
    path.join(fixtures, 'trace-berlin-csv.txt'),
    '--tz',
    'Europe/Berlin',
    '--name',
    'from-cli',
    '--json',
  );
  t.equal(imported.code, 0, imported.stderr);
  t.equal(imported.json().rows, 6);
  const runId = imported.json().run.id;

  const bad = await cli('trace', 'import', path.join(fixtures, 'events-run.json'));
  t.equal(bad.code, 1);
  t.match(bad.stderr, /400: line 1, column 1: the header has no task_id column/);

  // A plugin spool file: JSON lines written while the API was unreachable.
  const events = JSON.parse(await readFile(path.join(fixtures, 'capture-events.json'), 'utf8')) as object[];
  const spool = path.join(dir, '.scrna-events.jsonl');
  await writeFile(spool, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  const replay = await cli('events', 'replay', spool, '--batch', '7', '--json');
  t.equal(replay.code, 0, replay.stderr);
  t.same(replay.json(), { sent: events.length });
  await p.ingester.drain();

  const runs = await cli('runs', '--json');
  t.equal(runs.code, 0);
  t.equal(runs.json().total, 2, 'the trace run and the replayed head-node run');
  const human = await cli('runs');
  t.match(human.stdout, /from-cli/);
  t.match(human.stdout, /\(2 of 2\)/);

  const st = await cli('status', runId, '--json');
  t.equal(st.json().progress.total, 6);
  const stHuman = await cli('status', runId);
  t.match(stHuman.stdout, /\[#+\] 6\/6 tasks, 0 running, 2 failed {2}COMPLETED/);

  const noLog = await cli('logs', runId);
  t.equal(noLog.code, 1);
  t.match(noLog.stderr, /404/);

  const sub = await cli('submit', '--samplesheet', path.join(fixtures, 'workflows/assets/schema_input.json'), '--json');
  t.equal(sub.code, 1, 'a JSON file is not a samplesheet');
  t.match(sub.stderr, /samplesheet/);
  t.equal((await cli('frobnicate')).code, 1);
  const down = await run('node', [scrna, 'runs'], { env: { SCRNA_API_URL: 'http://127.0.0.1:9' } });
  t.match(down.stderr, /cannot reach the API/);
});
