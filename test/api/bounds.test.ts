// Bounds on what one client can make the API hold or recurse into: log followers that never read, a 400k-task CSV
// export, event arrays over the schema's maxItems, bodies over a route's limit, JSON nested too deep. Memory is read
// from /proc/<pid>/status of a separate API process (npx tsx api/src/server.ts) on its own fresh database.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import t, { type Test } from 'tap';
import { kyselyRepositories } from '../../api/src/adapters/kysely/repositories.js';
import { connect } from '../../api/src/db/connect.js';
import type { Repositories } from '../../api/src/domain/repositories.js';
import { stateKey, TASK_FIELDS } from '../../api/src/domain/task-fields.js';
import { scanJson, topLevelMaxItems } from '../../api/src/http/json-body.js';
import { CSV_PAGE_ROWS, DEFAULT_BODY_LIMIT, EVENTS_BODY_LIMIT, FOLLOW_BUFFER_LIMIT, MAX_JSON_DEPTH } from '../../api/src/http/limits.js';
import { freshDatabase } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';
import { fixtures, platformFor } from './helpers.js';

const MiB = 1024 * 1024;
const CSV_COLUMNS = ['task_id', 'attempt', 'status', ...TASK_FIELDS.map((f) => f.column), 'extra'];

/** n tasks (task_id 1..n, attempt 1) with quoting-worthy names, some NULLs and duplicate sort values, in one INSERT. */
async function insertTasks(pool: pg.Pool, runId: string, n: number, attempts = 1) {
  await pool.query(
    `INSERT INTO tasks (run_id, task_id, attempt, status, state_key, hash, process, name, exit, submit, duration, workdir, extra)
     SELECT $1, g, a, 'COMPLETED', $2, lpad(to_hex(g % 256), 2, '0') || '/' || substr(md5(g::text), 1, 6), 'ALIGN',
            'ALIGN (s' || g || ', lane "' || a || '")', CASE WHEN g % 3 = 0 THEN NULL ELSE g % 4 END,
            CASE WHEN g % 5 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00Z' + (g % 7) * interval '1.000001 second' END,
            1000 + g % 11, '/data/work/' || g, jsonb_build_object('k', g)
     FROM generate_series(1, $3::int) g, generate_series(1, $4::int) a`,
    [runId, stateKey('COMPLETED', 'trace'), n, attempts],
  );
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Highest RSS of pid seen between start and stop, sampled every 20 ms. */
function rssPeak(pid: number) {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssOf(pid));
  };
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

function get(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => http.get(url, resolve).on('error', reject));
}

async function text(res: http.IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of res) s += c;
  return s;
}

interface Server {
  url: string;
  pid: number;
  dataDir: string;
  pool: pg.Pool;
  repos: Repositories;
  /** Resolves when the server has logged `count` lines with this msg (pino JSON); rejects after 2 minutes. */
  logged(msg: string, count: number): Promise<void>;
}

/** The API as its own process (so its RSS is its alone), on a fresh database, stopped with the test. */
async function startServer(t: Test): Promise<Server> {
  const db = await freshDatabase('bounds');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'scrna-bounds-'));
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      SCRNA_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SCRNA_ADMIN_TOKEN: '',
      SCRNA_WORKFLOWS_DIR: path.join(fixtures, 'workflows'),
      SCRNA_UI_BUILD: path.join(dataDir, 'no-ui'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seen = new Map<string, number>();
  const waiters: { msg: string; count: number; resolve: () => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: string;
    try {
      msg = JSON.parse(line).msg;
    } catch {
      return;
    }
    seen.set(msg, (seen.get(msg) ?? 0) + 1);
    for (const w of waiters.filter((w) => (seen.get(w.msg) ?? 0) >= w.count)) w.resolve();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const conn = connect(db.url);
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
    await conn.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await get(`${url}/readyz`).then(
      (r) => {
        r.resume();
        return r.statusCode === 200;
      },
      () => false,
    );
    if (ok) break;
    if (i > 240 || child.exitCode !== null) throw new Error('the API did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    pid: child.pid!,
    dataDir,
    pool: conn.pool,
    repos: kyselyRepositories(conn.db, conn.pool),
    logged: (msg, count) =>
      new Promise((resolve, reject) => {
        if ((seen.get(msg) ?? 0) >= count) return resolve();
        const timer = setTimeout(() => reject(new Error(`the API did not log '${msg}' ${count} times`)), 120_000);
        waiters.push({
          msg,
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        exited.then(() => reject(new Error(`the API exited before logging '${msg}'`)));
      }),
  };
}

t.test('separate API process: memory per client stays bounded', async (t) => {
  const s = await startServer(t);

  t.test('a log follower that never reads is dropped; the server holds about FOLLOW_BUFFER_LIMIT for it', async (t) => {
    const runId = randomUUID();
    const launchDir = path.join(s.dataDir, 'runs', runId);
    const workdir = path.join(launchDir, 'work', 'ab', 'cdef');
    await mkdir(workdir, { recursive: true });
    const logFile = path.join(launchDir, '.nextflow.log');
    const LOG_SIZE = 256 * MiB;
    const line = 'Nov-25 20:24:25.123 [Task monitor] DEBUG n.processor.TaskPollingMonitor - Task completed > TaskHandler[id: 1]\n';
    const block = Buffer.from(line.repeat(Math.ceil(MiB / line.length))).subarray(0, MiB);
    const fh = await open(logFile, 'w');
    for (let i = 0; i < LOG_SIZE / MiB; i++) await fh.write(block);
    await fh.close();
    await link(logFile, path.join(workdir, '.command.out'));
    await s.repos.runs.create({ id: runId, name: 'big-log', status: 'COMPLETED', source: 'platform', launchDir });
    await s.pool.query(`INSERT INTO tasks (run_id, task_id, attempt, status, state_key, workdir) VALUES ($1, 1, 1, 'COMPLETED', $2, $3)`, [
      runId,
      stateKey('COMPLETED', 'trace'),
      workdir,
    ]);
    await text(await get(`${s.url}/api/v1/runs/${runId}`));
    const before = rssOf(s.pid);
    const peak = rssPeak(s.pid);
    // Both follow routes, neither read: the socket buffers fill and the server must stop reading the log.
    const followers = await Promise.all([
      get(`${s.url}/api/v1/runs/${runId}/log?follow=true`),
      get(`${s.url}/api/v1/runs/${runId}/tasks/1/log?follow=true`),
    ]);
    for (const f of followers) {
      t.equal(f.statusCode, 200);
      t.match(f.headers['content-type'], /text\/event-stream/);
    }
    await s.logged('log follower dropped: not reading', 2);
    const growth = peak() - before;
    for (const f of followers) {
      // The server cut the stream: the client gets what the kernel buffers held, then the socket closes mid-response.
      let body = '';
      f.on('data', (c) => {
        body += c;
      });
      f.on('error', () => {});
      await new Promise((resolve) => f.once('close', resolve));
      t.notOk(f.complete, 'the response was cut, not finished');
      t.ok(body.length < LOG_SIZE / 4, `the follower got ${(body.length / MiB).toFixed(1)} MiB of a ${LOG_SIZE / MiB} MiB log`);
      t.notMatch(body, /event: end/);
    }
    t.comment(`API RSS ${(before / MiB).toFixed(0)} MiB -> peak ${((before + growth) / MiB).toFixed(0)} MiB with 2 stalled followers`);
    t.ok(growth < 2 * 8 * FOLLOW_BUFFER_LIMIT, `RSS grew ${(growth / MiB).toFixed(1)} MiB (bound 2 x 8 x FOLLOW_BUFFER_LIMIT)`);
  });

  t.test('CSV export of 400k tasks streams page by page while /healthz keeps answering', async (t) => {
    const N = 400_000;
    const runId = randomUUID();
    await s.repos.runs.create({ id: runId, name: 'wide', status: 'COMPLETED', source: 'trace' });
    await insertTasks(s.pool, runId, N);
    // Statistics as autovacuum leaves them after a bulk load; without them each page is planned as a sort of the run.
    await s.pool.query('ANALYZE tasks');
    await text(await get(`${s.url}/api/v1/runs/${runId}/tasks?limit=1`));
    const before = rssOf(s.pid);
    const peak = rssPeak(s.pid);
    const order: string[] = [];
    const res = await get(`${s.url}/api/v1/runs/${runId}/tasks?format=csv`);
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /text\/csv/);
    let csv = '';
    res.setEncoding('utf8');
    const ended = new Promise<void>((resolve, reject) => {
      res.on('end', () => {
        order.push('csv end');
        resolve();
      });
      res.on('error', reject);
    });
    // The first bytes, then the client stops reading: the export cannot be complete yet (it is not in memory).
    csv += await new Promise<string>((resolve) => res.once('data', resolve));
    res.pause();
    order.push('csv first bytes');
    let unhealthy = 0;
    const health = async () => {
      const r = await get(`${s.url}/healthz`);
      if (r.statusCode !== 200 || (await text(r)) !== '{"ok":true}') unhealthy++;
      order.push('healthz');
    };
    await health();
    const pausedGrowth = rssOf(s.pid) - before;
    res.on('data', (c: string) => {
      csv += c;
    });
    res.resume();
    // Probes paced so they measure the event loop rather than compete with the export (bounded count).
    let during = 0;
    for (let i = 0; i < 3000 && !order.includes('csv end'); i++) {
      await health();
      if (!order.includes('csv end')) during++;
      await sleep(20);
    }
    await ended;
    const growth = peak() - before;
    t.same(order.slice(0, 2), ['csv first bytes', 'healthz'], 'healthz answered while the export waits for the client');
    t.equal(unhealthy, 0, 'every /healthz answered ok');
    t.ok(during > 0, `${during} /healthz answered while the export streamed`);
    const lines = csv.split('\n');
    t.equal(lines.length, N + 2, 'header, every task, final newline');
    t.equal(lines[0], CSV_COLUMNS.join(','));
    t.match(lines[1], /^1,1,COMPLETED,01\/c4ca42,,ALIGN,,,,"ALIGN \(s1, lane ""1""\)",1,2026-01-01T00:00:01\.000Z,/);
    t.match(lines[N], /^400000,1,COMPLETED,/);
    t.match(lines[N], /,"\{""k"":400000\}"$/, 'extra as quoted JSON');
    t.equal(lines[N + 1], '');
    t.comment(
      `API RSS ${(before / MiB).toFixed(0)} MiB -> peak ${((before + growth) / MiB).toFixed(0)} MiB exporting ${(csv.length / MiB).toFixed(0)} MiB`,
    );
    // The bound leaves room for the garbage collector's timing on a busy machine (35 MiB seen under load); the
    // export built in memory grew RSS by over 1 GiB.
    t.ok(pausedGrowth < 64 * MiB, `RSS grew ${(pausedGrowth / MiB).toFixed(1)} MiB while the client paused`);
    t.ok(growth < 128 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB over the whole export (${CSV_PAGE_ROWS} rows a page)`);
  });
});

t.test('CSV pages follow the JSON order across page boundaries, NULLs and ties', async (t) => {
  const p = await platformFor(t);
  const runId = randomUUID();
  await p.repos.runs.create({ id: runId, name: 'keyset', status: 'COMPLETED', source: 'trace' });
  // Two attempts per task: more rows than a page, duplicate sort values, NULLs, microsecond timestamps.
  const n = Math.ceil(CSV_PAGE_ROWS * 1.5);
  await insertTasks(p.pool, runId, n, 2);
  for (const q of ['sort=submit', 'sort=submit&order=desc', 'sort=exit&order=desc', 'sort=task_id&order=desc', 'sort=status&exit=lt:3']) {
    const csv = await p.app.inject({ url: `/api/v1/runs/${runId}/tasks?format=csv&${q}` });
    t.equal(csv.statusCode, 200);
    const got = csv.body
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',', 2).join(','));
    const want: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = (await p.app.inject({ url: `/api/v1/runs/${runId}/tasks?limit=1000&offset=${offset}&${q}` })).json();
      want.push(...page.items.map((r: { task_id: number; attempt: number }) => `${r.task_id},${r.attempt}`));
      if (offset + 1000 >= page.total) break;
    }
    t.ok(want.length > CSV_PAGE_ROWS, `${q}: ${want.length} rows`);
    t.same(got, want, `${q}: same rows in the same order`);
  }
});

t.test('the JSON pre-scan', async (t) => {
  t.equal(scanJson('[1,2,3]', 64, 3), null, 'exactly maxItems');
  t.match(scanJson('[1,2,3,4]', 64, 3), /more than 3 items/);
  t.equal(scanJson('[{"a":[1,2,3,4]},"x,y,z","\\",[",{"b":","}]', 64, 4), null, 'commas inside items and strings do not count');
  t.equal(scanJson(`${'['.repeat(64)}${']'.repeat(64)}`, 64), null, 'exactly the depth');
  t.match(scanJson(`${'['.repeat(65)}${']'.repeat(65)}`, 64), /deeper than 64/);
  t.equal(scanJson('{"a":"[[[[[[[[[[\\\\"}', 4), null, 'brackets in strings do not nest');
  t.equal(topLevelMaxItems({ anyOf: [{ type: 'object' }, { type: 'array', maxItems: 7 }] }), 7);
  t.equal(topLevelMaxItems({ type: 'object' }), undefined);
});

t.test('bodies: maxItems, nesting depth and size limits, with and without a token', async (t) => {
  const p = await platformFor(t);
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'bounds' } })).json().token as string;
  const auths = { 'with a token': { authorization: `Bearer ${token}` }, 'without a token': {} };
  const json = { 'content-type': 'application/json' };
  const event = (i: number) => ({
    runName: 'many',
    runId: 'c8e1b0d4-5a2f-4f0e-9a57-3d1b2f6e7a10',
    event: 'process_submitted',
    trace: { task_id: i, status: 'SUBMITTED' },
  });
  const tooMany = JSON.stringify(Array.from({ length: 100_001 }, (_, i) => event(i)));
  t.ok(tooMany.length < EVENTS_BODY_LIMIT, 'the 100,001 events fit the size limit: maxItems refuses them');
  const deep = (n: number) => `{"params":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;

  for (const [who, auth] of Object.entries(auths)) {
    const post = (url: string, payload: string) => p.app.inject({ method: 'POST', url, payload, headers: { ...json, ...auth } });
    // Events always need a token: without one they are refused (401) before the body is read at all.
    const refused = (r: Awaited<ReturnType<typeof post>>, url: string, status: number, what: string) => {
      const want = url === '/api/v1/events' && !('authorization' in auth) ? 401 : status;
      t.equal(r.statusCode, want, `${who}: ${what} -> ${want}`);
      if (want !== 401) t.equal(r.json().field, 'body');
      return want !== 401;
    };
    const many = await post('/api/v1/events', tooMany);
    if (refused(many, '/api/v1/events', 400, '100,001 events')) t.match(many.json().message, /more than 100000 items/);

    for (const url of ['/api/v1/runs', '/api/v1/runs/validate', '/api/v1/events', '/api/v1/tokens']) {
      const r = await post(url, deep(10_000));
      if (refused(r, url, 400, `${url} nested 10,000 deep`))
        t.equal(r.json().message, `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const atLimit = await post('/api/v1/runs/validate', deep(MAX_JSON_DEPTH - 1));
    t.ok(atLimit.statusCode < 500, `${who}: params nested to the limit are validated, not a 5xx (${atLimit.statusCode})`);

    refused(
      await post('/api/v1/runs', `{"samplesheet":"${'x'.repeat(DEFAULT_BODY_LIMIT)}"}`),
      '/api/v1/runs',
      413,
      'launch body over DEFAULT_BODY_LIMIT',
    );
    const bigEvents = `[${JSON.stringify(event(1))},"${'x'.repeat(EVENTS_BODY_LIMIT)}"]`;
    refused(await post('/api/v1/events', bigEvents), '/api/v1/events', 413, 'events body over EVENTS_BODY_LIMIT');
  }
  await p.ingester.drain();
  t.equal((await p.repos.runs.list({ limit: 10 })).total, 0, 'nothing stored from refused requests');

  // Over a real socket, without a content-length: refused while the body is still streaming in.
  await p.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = p.app.server.address() as AddressInfo;
  const planned = 4 * EVENTS_BODY_LIMIT;
  const { status, sent } = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
    let sent = 0;
    let done = false;
    const req = http.request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/api/v1/events',
      headers: { ...json, ...auths['with a token'] },
    });
    req.on('response', (res) => {
      done = true;
      res.resume();
      resolve({ status: res.statusCode!, sent });
      req.destroy();
    });
    // The server may close the socket right after its 413, before the client has read it (likelier on a busy
    // machine): a reset while writing is the same refusal, seen from the client's side.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: 0, sent });
      else reject(err);
    });
    const chunk = Buffer.alloc(MiB, 0x20);
    const pump = () => {
      while (!done && sent < planned) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    req.write('[');
    pump();
  });
  t.ok(status === 413 || status === 0, `refused with 413 or a reset (got ${status})`);
  t.ok(sent < planned, `refused after ${sent / MiB} MiB of a ${planned / MiB} MiB body`);
});
