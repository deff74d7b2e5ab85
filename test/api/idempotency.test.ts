// Idempotency-Key on POST /api/v1/runs: 50 concurrent duplicates start one run (one Nextflow) and all get its
// response; another body with the key is a 422 naming it; keys are per project, released when the request fails,
// and forgotten after 24 h.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { platformFor } from './helpers.js';

const ADMIN = 'admin-token-for-idempotency-0123456789';
type Platform = Awaited<ReturnType<typeof platformFor>>;

/** A Nextflow that records each start and exits at once. */
async function countingNextflow(dir: string) {
  const bin = path.join(dir, 'nextflow');
  const log = path.join(dir, 'starts.log');
  await writeFile(bin, `#!/bin/sh\necho start >> '${log}'\n`);
  await chmod(bin, 0o755);
  return { bin, starts: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length };
}

const submit = (p: Platform, token: string, key: string | undefined, body: object) =>
  p.app.inject({
    method: 'POST',
    url: '/api/v1/runs',
    payload: body,
    headers: { authorization: `Bearer ${token}`, ...(key === undefined ? {} : { 'idempotency-key': key }) },
  });

async function tokenIn(p: Platform, project: string): Promise<string> {
  const auth = { authorization: `Bearer ${ADMIN}` };
  await p.app.inject({ method: 'POST', url: '/api/v1/projects', payload: { id: project }, headers: auth });
  return (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: project, project }, headers: auth })).json().token;
}

t.test('Idempotency-Key on POST /runs', async (t) => {
  const dir = t.testdir({});
  const nf = await countingNextflow(dir);
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, nextflowBin: nf.bin });
  const labA = await tokenIn(p, 'lab-a');
  const labB = await tokenIn(p, 'lab-b');
  const runsIn = async (project: string) =>
    Number((await p.pool.query('SELECT count(*) AS n FROM runs WHERE project_id = $1', [project])).rows[0].n);
  const body = { profiles: ['test'], name: 'keyed', labels: { sample: 'S1', lane: '1' } };

  const answers = await Promise.all(Array.from({ length: 50 }, () => submit(p, labA, 'lims-order-42', body)));
  t.same([...new Set(answers.map((r) => r.statusCode))], [201], 'every duplicate gets the same status');
  const ids = new Set(answers.map((r) => r.json().id));
  t.equal(ids.size, 1, 'one run id in all 50 responses');
  t.equal(await runsIn('lab-a'), 1, 'one run stored');
  t.equal(answers.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 49, '49 replays, marked');
  t.same(new Set(answers.map((r) => r.body)).size, 1, 'the replays are the original response, byte for byte');
  t.equal(await nf.starts(), 1, 'one Nextflow started');

  const reordered = await submit(p, labA, 'lims-order-42', { labels: { lane: '1', sample: 'S1' }, name: 'keyed', profiles: ['test'] });
  t.equal(reordered.statusCode, 201, 'the same body in another key order is the same request');
  t.equal(reordered.json().id, [...ids][0]);

  const changed = await submit(p, labA, 'lims-order-42', { ...body, name: 'another' });
  t.equal(changed.statusCode, 422, 'the key with another body');
  t.equal(changed.json().field, 'Idempotency-Key');
  t.match(changed.json().message, /lims-order-42/, 'the message names the key');

  const otherProject = await submit(p, labB, 'lims-order-42', { ...body, name: 'lab b' });
  t.equal(otherProject.statusCode, 201, 'keys are per project');
  t.not(otherProject.json().id, [...ids][0]);

  for (const bad of ['', 'has space', 'x'.repeat(256), 'caf\u00e9']) {
    const r = await submit(p, labA, bad, body);
    t.equal(r.statusCode, 400, `key ${JSON.stringify(bad.slice(0, 20))}`);
    t.match(r.json().field, /idempotency-key/);
  }
  const before = await runsIn('lab-a');
  const refused = await submit(p, labA, 'retry-me', { profiles: ['test'], params: { outdir: 3 } });
  t.equal(refused.statusCode, 400, 'a request that fails validation');
  t.equal(await runsIn('lab-a'), before, 'stores no run');
  const retried = await submit(p, labA, 'retry-me', body);
  t.equal(retried.statusCode, 201, 'and leaves the key free for the corrected request');

  // After 24 h a key is forgotten: taken again by a new request, and purged from the table.
  await p.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'lims-order-42'`);
  const later = await submit(p, labA, 'lims-order-42', { ...body, name: 'next day' });
  t.equal(later.statusCode, 201, 'an expired key is a new request');
  t.not(later.json().id, [...ids][0]);
  await p.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`);
  t.equal(await p.app.services.idempotency.purge(), 3, 'the purge deletes expired keys');
  // The fake Nextflow exits at once: let every run finish before the platform closes under it.
  for (let i = 0; i < 100; i++) {
    const { rows } = await p.pool.query(`SELECT count(*) AS n FROM runs WHERE status IN ('QUEUED', 'SUBMITTED', 'RUNNING')`);
    if (Number(rows[0].n) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
