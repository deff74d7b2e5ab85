import { readFile } from 'node:fs/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { createPlatform } from '../../api/src/composition.js';
import { loadConfig } from '../../api/src/config.js';
import { traceLines, write } from '../trace-rows.js';

const admin = process.env.TEST_DATABASE_URL!;
const client = new pg.Client({ connectionString: admin });
await client.connect();
const db = `probe_${process.pid}`;
await client.query(`CREATE DATABASE ${db}`);
const url = new URL(admin);
url.pathname = `/${db}`;
const platform = await createPlatform(
  { ...loadConfig({ ...process.env, DATABASE_URL: url.toString(), SCRNA_ADMIN_TOKEN: '' }), dataDir: '/tmp/perf/probe' },
  { recover: false },
);
platform.app.get('/bench/noop', { schema: { hide: true }, config: { access: 'open' } }, async (_req, reply) => reply.code(204).send());
await platform.app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(platform.app.server.address() as { port: number }).port}`;
await write('/tmp/perf/trace.txt', traceLines(20000));
const r = await fetch(`${base}/api/v1/runs/trace`, {
  method: 'POST',
  body: await readFile('/tmp/perf/trace.txt'),
  headers: { 'content-type': 'text/plain' },
});
const id = (await r.json()).run.id;
const page = await fetch(`${base}/api/v1/runs/${id}/tasks?limit=100`);
const etag = page.headers.get('etag')!;
console.log('bytes', (await page.text()).length);
for (const [name, path, headers] of [['304', `/api/v1/runs/${id}/tasks?limit=100`, { 'if-none-match': etag }]] as const) {
  const a = await autocannon({ url: base + path, connections: 50, duration: 3, headers: headers as Record<string, string> });
  console.log(name, Math.round(a.requests.total / a.duration), 'req/s p50', a.latency.p50, 'p97.5', a.latency.p97_5, 'non2xx', a.non2xx);
}
await platform.close();
await client.query(`DROP DATABASE ${db} WITH (FORCE)`);
await client.end();
