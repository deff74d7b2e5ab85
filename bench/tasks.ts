// Task table at scale: a finished run of 100,000 tasks imported from a trace (POST /runs/trace, as a user would), read
// by 50 concurrent clients and by one: 100-row pages, first and deep (offset and cursor), sorted by each column the UI
// sorts by, filtered by status and by text `like`. The API runs as its own process (api/src/server.ts); the clients
// here are closed loops on keep-alive connections, each latency measured from request to the last body byte.
// Modes, in the same run: the ended run as served (page cache; and clients that send the page's ETag, 304); the same tasks in a
// run still RUNNING (no page cache: every page is a query, counts cached by run version); then the same two with the
// 0006 indexes dropped (0001's two indexes back), on a restarted server. Prints JSON. Run with bench/tasks.sh.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { traceLines, write } from './trace-rows.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SINGLE = Number(process.env.BENCH_SINGLE ?? 15);
const admin = process.env.TEST_DATABASE_URL;
if (!admin) throw new Error('TEST_DATABASE_URL is not set: run bench/tasks.sh');

const client = new pg.Client({ connectionString: admin });
await client.connect();
const db = `bench_tasks_${process.pid}`;
await client.query(`CREATE DATABASE ${db}`);
const url = new URL(admin);
url.pathname = `/${db}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
pool.on('error', () => undefined);
const dir = await mkdtemp(path.join(tmpdir(), 'bench-tasks-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

let server: { child: ChildProcess; base: string } | null = null;
async function startServer() {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
    env: { ...process.env, DATABASE_URL: url.toString(), SCRNA_DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  createInterface({ input: child.stdout! }).on('line', () => undefined);
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      server = { child, base };
      return server;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the API did not start');
}
async function stopServer() {
  if (!server) return;
  const { child } = server;
  server = null;
  child.kill('SIGTERM');
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
}

/** One GET, its body read to the end; ms from request to last byte. */
function timed(target: string, headers: Record<string, string> = {}): Promise<{ ms: number; status: number; body: string; etag?: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(target, { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ ms: performance.now() - t0, status: res.statusCode!, body: Buffer.concat(chunks).toString(), etag: res.headers.etag }),
        );
      })
      .on('error', reject);
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(2);
};

/** `clients` closed loops on one URL for SECONDS (at least one request each); with an ETag, as viewers that have the page. */
async function load(target: string, clients: number, etag?: string) {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      do {
        const r = await timed(target, etag ? { 'if-none-match': etag } : {});
        if (r.status !== (etag ? 304 : 200)) errors++;
        lat.push(r.ms);
      } while (performance.now() < end);
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return { requests: lat.length, perSecond: Math.round(lat.length / s), p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), errors };
}

/** One client, SINGLE requests after one warm-up. */
async function single(target: string) {
  await timed(target);
  const lat: number[] = [];
  for (let i = 0; i < SINGLE; i++) lat.push((await timed(target)).ms);
  return { p50: pct(lat, 50), p95: pct(lat, 95) };
}

const SORTED = ['process', 'tag', 'status', 'exit', 'duration', 'realtime', 'cpus', 'pct_cpu', 'peak_rss', 'memory'];
async function scenarios(base: string, runId: string): Promise<Record<string, string>> {
  const u = (qs: string) => `${base}/api/v1/runs/${runId}/tasks?limit=100${qs}`;
  const at50k = JSON.parse((await timed(u('&offset=49900'))).body).nextCursor as string;
  const out: Record<string, string> = {
    firstPage: u(''),
    offset50000: u('&offset=50000'),
    cursorAt50000: u(`&cursor=${at50k}`),
    durationOffset20000: u('&sort=duration&offset=20000'),
    statusFailed: u('&status=FAILED'),
    processLikeSTAR: u('&process=like:STAR'),
    nameLikeS99: u('&name=like:S99'),
    tagLikeS9: u('&tag=like:S9'),
  };
  for (const c of SORTED) out[`sort_${c}_desc`] = u(`&sort=${c}&order=desc`);
  return out;
}

async function measure(runs: { ended: string; running: string }) {
  const { base } = await startServer();
  const result: Record<string, Record<string, unknown>> = {};
  for (const [mode, runId] of Object.entries(runs)) {
    const s = await scenarios(base, runId);
    for (const [name, target] of Object.entries(s)) {
      result[name] ??= {};
      const figures: Record<string, unknown> = { [`clients${CLIENTS}`]: await load(target, CLIENTS), single: await single(target) };
      const { etag } = await timed(target);
      if (etag) figures[`clients${CLIENTS}Revalidating`] = await load(target, CLIENTS, etag);
      result[name][mode] = figures;
    }
  }
  await stopServer();
  return result;
}

type Figures = Record<string, { p50: number; p95: number }>;
const worst = (r: Record<string, Record<string, unknown>>, mode: string, pick: (m: Figures) => number) =>
  Math.max(...Object.values(r).map((s) => pick(s[mode] as Figures)));

try {
  await startServer();
  const traceFile = path.join(dir, 'trace.txt');
  await write(traceFile, traceLines(TASKS));
  const body = await readFile(traceFile);
  const upload = async (name: string) => {
    const r = await fetch(`${server!.base}/api/v1/runs/trace?name=${name}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain' },
    });
    if (r.status !== 201) throw new Error(`trace upload: ${r.status} ${await r.text()}`);
    return (await r.json()).run as { id: string; status: string };
  };
  const ended = await upload('ended');
  const running = await upload('running');
  // The same tasks in a run that has not ended: its pages are never cached.
  await pool.query(`UPDATE runs SET status = 'RUNNING' WHERE id = $1`, [running.id]);
  await pool.query('VACUUM ANALYZE tasks');
  await stopServer();
  const runs = { ended: ended.id, running: running.id };

  const indexed = await measure(runs);
  const dropped = (
    await pool.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' AND (indexname LIKE 'tasks_by_%' OR indexname LIKE 'tasks_trgm_%')`,
    )
  ).rows.map((r) => r.indexname as string);
  for (const i of dropped) await pool.query(`DROP INDEX ${i}`);
  // 0001's indexes, which 0006 replaced.
  await pool.query('CREATE INDEX tasks_process ON tasks (run_id, process)');
  await pool.query('CREATE INDEX tasks_status ON tasks (run_id, status)');
  await pool.query('ANALYZE tasks');
  const noIndexes = await measure(runs);

  const pickLoad = (m: Figures) => m[`clients${CLIENTS}`]!.p95;
  const pickSingle = (m: Figures) => m.single!.p50;
  const result = {
    benchmark: 'tasks',
    tasks: TASKS,
    clients: CLIENTS,
    secondsPerScenario: SECONDS,
    pageRows: 100,
    summary: {
      worstP95ms: {
        endedRun: worst(indexed, 'ended', pickLoad),
        runningRun: worst(indexed, 'running', pickLoad),
        endedRunNoIndexes: worst(noIndexes, 'ended', pickLoad),
        runningRunNoIndexes: worst(noIndexes, 'running', pickLoad),
      },
      worstSingleClientP50ms: {
        endedRun: worst(indexed, 'ended', pickSingle),
        runningRun: worst(indexed, 'running', pickSingle),
        endedRunNoIndexes: worst(noIndexes, 'ended', pickSingle),
        runningRunNoIndexes: worst(noIndexes, 'running', pickSingle),
      },
    },
    goal: `p95 <= 20 ms per page with ${CLIENTS} clients, single client <= 10 ms`,
    indexesDropped: dropped,
    withIndexes: indexed,
    withoutIndexes: noIndexes,
    postgres: (await pool.query('SHOW server_version')).rows[0].server_version,
    machine: { cpus: cpus().length, loadAverage1m: +loadavg()[0]!.toFixed(1) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stopServer();
  agent.destroy();
  await pool.end();
  await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await client.end();
  await rm(dir, { recursive: true, force: true });
}
