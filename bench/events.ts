// Event ingest benchmark: autocannon on loopback against POST /api/v1/events (one event per request as nf-weblog
// sends, and batches of 100 as nf-scrna sends; a fixed number of requests, so the count sent is exact), next to a bare Fastify route answering 204 on the same server.
// A 202 comes once the events are in the API's spool (fdatasync'ed); they reach the database behind it, so the counts
// are taken after the ingester has drained. Afterwards every accepted event must be in the database. Prints JSON.
// Run with bench/events.sh.

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createPlatform } from '../api/src/composition.js';
import { loadConfig } from '../api/src/config.js';

const admin = process.env.TEST_DATABASE_URL;
if (!admin) throw new Error('TEST_DATABASE_URL is not set: run bench/events.sh');
const SINGLE = Number(process.env.BENCH_EVENTS ?? 30_000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 600);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-events-'));
const client = new pg.Client({ connectionString: admin });
await client.connect();
const db = `bench_events_${process.pid}`;
await client.query(`CREATE DATABASE ${db}`);
const url = new URL(admin);
url.pathname = `/${db}`;
// The bench's own connection for counting rows: the platform exposes repositories, not its pool.
const rows = new pg.Pool({ connectionString: url.toString(), max: 1 });
const count = async (table: string) => Number((await rows.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
const platform = await createPlatform(
  // A fresh data directory: its event spool starts empty.
  { ...loadConfig({ ...process.env, DATABASE_URL: url.toString(), SCRNA_ADMIN_TOKEN: '' }), dataDir },
  { recover: false },
);
// The baseline: a bare 204 route on the same server, so the ratio measures the events route's own cost.
platform.app.post('/bench/noop', { schema: { hide: true }, config: { access: 'open' } }, async (_req, reply) => reply.code(204).send());
await platform.app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(platform.app.server.address() as { port: number }).port}`;
const token = (await platform.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'bench' } })).json().token;

// A realistic process_completed event (the nf-weblog trace map); every one gets its own task id, so none is a duplicate.
let next = 0;
const event = () => {
  const i = next++;
  const submit = 1_795_000_000_000 + i;
  return {
    runName: `bench_run_${i % 8}`,
    runId: '5f0c2b6e-8d1a-4c3e-9b7a-1e2d3c4b5a69',
    event: 'process_completed',
    utcTime: '2026-11-25T20:00:00Z',
    trace: {
      task_id: i + 1,
      status: 'COMPLETED',
      hash: 'ab/cdef12',
      name: `STARSOLO (S${i % 50})`,
      process: 'STARSOLO',
      tag: `S${i % 50}`,
      exit: 0,
      submit,
      start: submit + 100,
      complete: submit + 5000,
      duration: 5000,
      realtime: 4800,
      '%cpu': 180.5,
      peak_rss: 123456789,
      rchar: 1000000,
      wchar: 2000000,
      attempt: 1,
      cpus: 2,
      memory: 4294967296,
      workdir: `/scratch/work/ab/cdef12${i}`,
      native_id: 10000 + i,
      module: [],
      container: null,
      queue: null,
    },
  };
};

async function load(path: string, amount: number, body: () => string) {
  const r = await autocannon({
    url: `${base}${path}`,
    method: 'POST',
    connections: CONNECTIONS,
    amount,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    requests: [
      {
        setupRequest: ((req: Record<string, unknown>) => ({ ...req, body: body() })) as never,
      },
    ],
  });
  return {
    // Total over the run's duration: autocannon's per-second average is too coarse for a run of a few seconds.
    requestsPerSecond: Math.round(r.requests.total / r.duration),
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
    ok: r['2xx'],
    errors: r.errors + r.non2xx + r.timeouts,
  };
}

try {
  const bare = await load('/bench/noop', SINGLE, () => '{}');
  const single = await load('/api/v1/events', SINGLE, () => JSON.stringify(event()));
  const singleSent = single.ok;
  await platform.ingester.drain();
  const afterSingle = await count('events');
  const batched = await load('/api/v1/events', BATCHES, () => JSON.stringify(Array.from({ length: 100 }, event)));
  await platform.ingester.drain();
  const total = await count('events');
  const tasks = await count('tasks');
  const result = {
    benchmark: 'events',
    connections: CONNECTIONS,
    bare204: bare,
    singleEventRequests: {
      ...single,
      eventsPerSecond: single.requestsPerSecond,
      eventsAccepted: singleSent,
      eventsInDb: afterSingle,
    },
    batch100Requests: {
      ...batched,
      eventsPerSecond: batched.requestsPerSecond * 100,
      eventsAccepted: batched.ok * 100,
      eventsInDb: total - afterSingle,
    },
    singleToBareRatio: +(single.requestsPerSecond / bare.requestsPerSecond).toFixed(2),
    noneLost: afterSingle === singleSent && total - afterSingle === batched.ok * 100,
    taskRows: tasks,
    goal: 'single-event requests >= 0.7x the bare 204 route, p99 <= 10 ms, count in DB == count accepted',
    machine: { cpus: cpus().length, loadAverage1m: +loadavg()[0]!.toFixed(1) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await platform.close();
  await rows.end();
  await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await client.end();
  await rm(dataDir, { recursive: true, force: true });
}
