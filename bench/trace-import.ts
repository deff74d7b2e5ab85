// Trace import benchmark: 1,000,000 raw-mode trace rows through the API's import path (streaming scan -> COPY straight
// into tasks; the re-import goes through the staging table and the merge) next to `psql \copy` of the same rows straight into the same table, on the
// same server in the same run. Prints JSON. Run with bench/trace-import.sh (starts a throw-away PostgreSQL).
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { kyselyRepositories } from '../api/src/adapters/kysely/repositories.js';
import { connect } from '../api/src/db/connect.js';
import { migrate } from '../api/src/db/migrations.js';
import { TASK_FIELDS } from '../api/src/domain/task-fields.js';
import { scanTrace } from '../api/src/domain/trace-parser.js';
import { FIELDS, row, traceLines, write } from './trace-rows.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const admin = process.env.TEST_DATABASE_URL;
if (!admin) throw new Error('TEST_DATABASE_URL is not set: run bench/trace-import.sh');
const psql = process.env.PSQL ?? 'psql';

const dir = await mkdtemp(path.join(tmpdir(), 'bench-trace-'));
const db = `bench_${process.pid}`;
const client = new pg.Client({ connectionString: admin });
await client.connect();
await client.query(`CREATE DATABASE ${db}`);
const url = new URL(admin);
url.pathname = `/${db}`;
const conn = connect(url.toString());
try {
  await migrate(conn.db);
  const repos = kyselyRepositories(conn.db, conn.pool);
  const traceFile = path.join(dir, 'trace.txt');
  await write(traceFile, traceLines(ROWS));
  // The same rows as psql \copy input for the tasks table (what the import ends up writing).
  const runA = crypto.randomUUID();
  const runB = crypto.randomUUID();
  for (const id of [runA, runB]) await repos.runs.create({ id, name: id, status: 'COMPLETED', source: 'trace' });
  const cols = ['run_id', 'task_id', 'attempt', 'status', 'state_key', ...TASK_FIELDS.map((f) => f.column), 'extra'];
  const copyFile = path.join(dir, 'tasks.tsv');
  const iso = (ms: unknown) => (ms === undefined || ms === '-' ? '\\N' : new Date(Number(ms)).toISOString());
  await write(
    copyFile,
    (function* () {
      for (let i = 0; i < ROWS; i++) {
        const r = row(i);
        const byCol: Record<string, unknown> = { ...r, pct_cpu: r['%cpu'], pct_mem: r['%mem'] };
        const vals = TASK_FIELDS.map((f) => {
          const v = byCol[f.trace] ?? byCol[f.column];
          if (v === undefined || v === '-') return '\\N';
          return f.kind === 'date' ? iso(v) : String(v);
        });
        yield `${runB}\t${r.task_id}\t1\t${r.status}\t${r.status === 'FAILED' ? 8 : 10}\t${vals.join('\t')}\t{}\n`;
      }
    })(),
  );
  await conn.pool.query('VACUUM ANALYZE');

  let t0 = performance.now();
  const imported = await repos.tasks.import(runA, scanTrace(createReadStream(traceFile, { highWaterMark: 1 << 20 })));
  const importS = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const reimported = await repos.tasks.import(runA, scanTrace(createReadStream(traceFile, { highWaterMark: 1 << 20 })));
  const reimportS = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const p = spawnSync(psql, ['-q', '-v', 'ON_ERROR_STOP=1', url.toString(), '-c', `\\copy tasks (${cols.join(', ')}) FROM '${copyFile}'`], {
    encoding: 'utf8',
  });
  const copyS = (performance.now() - t0) / 1000;
  if (p.status !== 0) throw new Error(p.stderr);

  const counts = (await conn.pool.query('SELECT run_id, count(*)::int AS n FROM tasks GROUP BY run_id')).rows;
  const n = (id: string) => counts.find((c) => c.run_id === id)?.n ?? 0;
  const same = (
    await conn.pool.query(
      `SELECT count(*)::int AS n FROM tasks a JOIN tasks b ON b.run_id = $2 AND b.task_id = a.task_id
       WHERE a.run_id = $1 AND (a.duration, a.submit, a.peak_rss, a.pct_cpu, a.status) = (b.duration, b.submit, b.peak_rss, b.pct_cpu, b.status)`,
      [runA, runB],
    )
  ).rows[0].n;
  const result = {
    benchmark: 'trace-import',
    rows: ROWS,
    traceFileBytes: (await stat(traceFile)).size,
    fields: FIELDS.length,
    api: { seconds: +importS.toFixed(2), rowsPerSecond: Math.round(ROWS / importS), rowsInDb: n(runA), rowsReported: imported.rows },
    apiReimport: {
      seconds: +reimportS.toFixed(2),
      rowsPerSecond: Math.round(ROWS / reimportS),
      rowsInDb: n(runA),
      rowsReported: reimported.rows,
    },
    psqlCopy: { seconds: +copyS.toFixed(2), rowsPerSecond: Math.round(ROWS / copyS), rowsInDb: n(runB) },
    ratioToCopy: +(copyS / importS).toFixed(2),
    reimportRatioToCopy: +(copyS / reimportS).toFixed(2),
    goal: 'first import >= 0.9 of psql \\copy, re-import >= 0.8',
    rowsIdenticalToCopy: same,
    postgres: (await conn.pool.query('SHOW server_version')).rows[0].server_version,
    machine: { cpus: cpus().length, loadAverage1m: +loadavg()[0]!.toFixed(1) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await conn.close();
  await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await client.end();
  await rm(dir, { recursive: true, force: true });
}
