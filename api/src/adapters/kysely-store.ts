// RunStore on PostgreSQL through Kysely (queries) and pg (COPY). Every write that spans rows is one transaction.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Database } from '../db/schema.js';
import { DomainError } from '../domain/errors.js';
import type {
  CellColumns,
  IncomingEvent,
  NewRun,
  NewUpload,
  Progress,
  ResultsBundle,
  Run,
  RunPatch,
  RunQuery,
  RunStatus,
  RunStore,
  SampleRow,
  TaskOrder,
  TaskQuery,
  TaskRow,
} from '../domain/ports.js';
import { RUN_STATUS_RANK } from '../domain/ports.js';
import { mergeObservations, stateKey, TASK_FIELDS, type TaskObservation } from '../domain/task-fields.js';
import { rowsOf, type TaskRows } from '../domain/trace-parser.js';
import { dedupeKey, observationFromEvent, type RunFacts, runFactsFromEvent } from '../domain/weblog.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The domain's ranking as SQL, so a guarded UPDATE moves a run only forward. */
const RANK_OF_STATUS = `(CASE status ${Object.entries(RUN_STATUS_RANK)
  .map(([s, r]) => `WHEN '${s}' THEN ${r}`)
  .join(' ')} END)`;

/** Staging column types: dates travel as epoch ms and become timestamptz in the merge. */
const STAGE_TYPE = { str: 'text', int: 'integer', num: 'bigint', date: 'bigint', time: 'bigint', mem: 'bigint', perc: 'double precision' };
const STAGE_COLUMNS = [
  'task_id integer',
  'attempt integer',
  'status text',
  'state_key smallint',
  ...TASK_FIELDS.map((f) => `"${f.column}" ${STAGE_TYPE[f.kind]}`),
  'extra jsonb',
];
const FIELD_COLS = TASK_FIELDS.map((f) => `"${f.column}"`);
const TASK_COLUMNS = ['task_id', 'attempt', 'status', ...TASK_FIELDS.map((f) => f.column)];
const TEXTUAL = new Set(['status', ...TASK_FIELDS.filter((f) => f.kind === 'str').map((f) => f.column)]);
const DATES = new Set(TASK_FIELDS.filter((f) => f.kind === 'date').map((f) => f.column));
const NOT_NULL = new Set(['task_id', 'attempt', 'status']);

function sourceValue(f: (typeof TASK_FIELDS)[number], s = 's'): string {
  return f.kind === 'date' ? `to_timestamp(${s}."${f.column}" / 1000.0)` : `${s}."${f.column}"`;
}

/** INSERT .. ON CONFLICT that merges observations: the higher state key wins per non-null column, lower ones fill gaps. */
function mergeSql(from: string, distinct: boolean): string {
  const pick = (col: string) =>
    `CASE WHEN EXCLUDED.state_key > tasks.state_key THEN COALESCE(EXCLUDED.${col}, tasks.${col}) ELSE COALESCE(tasks.${col}, EXCLUDED.${col}) END`;
  const attempt = 'COALESCE(s.attempt, (SELECT min(t.attempt) FROM tasks t WHERE t.run_id = s.run_id AND t.task_id = s.task_id), 1)';
  return `
    INSERT INTO tasks (run_id, task_id, attempt, status, state_key, ${FIELD_COLS.join(', ')}, extra)
    SELECT ${distinct ? 'DISTINCT ON (s.run_id, s.task_id, s.attempt)' : ''} s.run_id, s.task_id, ${attempt}, s.status, s.state_key,
      ${TASK_FIELDS.map((f) => sourceValue(f)).join(', ')}, COALESCE(s.extra, '{}')
    FROM ${from}
    ${distinct ? 'ORDER BY s.run_id, s.task_id, s.attempt, s.state_key DESC' : ''}
    ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET
      status = CASE WHEN EXCLUDED.state_key > tasks.state_key THEN EXCLUDED.status ELSE tasks.status END,
      state_key = GREATEST(EXCLUDED.state_key, tasks.state_key),
      ${FIELD_COLS.map((c) => `${c} = ${pick(c)}`).join(',\n')},
      extra = CASE WHEN EXCLUDED.state_key > tasks.state_key THEN tasks.extra || EXCLUDED.extra ELSE EXCLUDED.extra || tasks.extra END`;
}

const COPY_SPECIAL = /[\\\t\n\r]/;

function copyEscape(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return COPY_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s;
}

const FIELD_KINDS = TASK_FIELDS.map((f) => f.kind);

/**
 * COPY text of a batch of rows, built straight from the columns. Direct: a tasks row as the merge inserts a first
 * observation (run id, dates as ISO text, attempt 1 when unknown). Staged: a tasks_in row (dates as epoch ms).
 */
function rowsText(rows: TaskRows, from: number, runId: string | null): string {
  const values = rows.values;
  let out = '';
  for (let r = from; r < rows.length; r++) {
    const status = rows.status[r]!;
    const attempt = rows.attempt[r];
    let line = runId === null ? `${rows.taskId[r]}\t${attempt ?? '\\N'}` : `${runId}\t${rows.taskId[r]}\t${attempt ?? 1}`;
    line += `\t${status}\t${stateKey(status, 'trace')}`;
    for (let k = 0; k < FIELD_KINDS.length; k++) {
      const col = values[k];
      const v = col ? col[r] : undefined;
      if (v === undefined || v === null) line += '\t\\N';
      else if (typeof v === 'number' && runId !== null && FIELD_KINDS[k] === 'date') line += `\t${new Date(v).toISOString()}`;
      else line += `\t${copyEscape(v)}`;
    }
    const extra = rows.extra?.[r];
    line += extra ? `\t${copyEscape(extra)}\n` : '\t{}\n';
    out += line;
  }
  return out;
}

const iso = (d: Date | string | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

interface RunRecord {
  [k: string]: unknown;
}

function toRun(r: RunRecord): Run {
  const maxSeq = (r.max_seq as number | null) ?? null;
  const seqCount = Number(r.seq_count ?? 0);
  return {
    id: r.id as string,
    name: r.name as string,
    status: r.status as RunStatus,
    source: r.source as Run['source'],
    sessionId: (r.session_id as string) ?? null,
    runName: (r.run_name as string) ?? null,
    submitter: (r.submitter as string) ?? null,
    owner: (r.owner as string) ?? null,
    params: (r.params as Record<string, unknown>) ?? {},
    profiles: (r.profiles as string[]) ?? [],
    samplesheet: (r.samplesheet as string) ?? null,
    commandLine: (r.command_line as string) ?? null,
    nextflowVersion: (r.nextflow_version as string) ?? null,
    launcher: (r.launcher as string) ?? null,
    launchDir: (r.launch_dir as string) ?? null,
    outdir: (r.outdir as string) ?? null,
    workDir: (r.work_dir as string) ?? null,
    nativeId: (r.native_id as string) ?? null,
    resumedFrom: (r.resumed_from as string) ?? null,
    errorMessage: (r.error_message as string) ?? null,
    exitStatus: (r.exit_status as number) ?? null,
    labels: (r.labels as Record<string, string>) ?? {},
    createdAt: iso(r.created_at as Date)!,
    updatedAt: iso(r.updated_at as Date)!,
    startedAt: iso(r.started_at as Date | null),
    completedAt: iso(r.completed_at as Date | null),
    resultsIngestedAt: iso(r.results_ingested_at as Date | null),
    delivery: {
      eventsReceived: Number(r.events_received ?? 0),
      lastEventAt: iso(r.last_event_at as Date | null),
      maxSeq,
      missingSeq: maxSeq === null ? 0 : Math.max(0, maxSeq - seqCount),
    },
  };
}

const RUN_SELECT = `
  SELECT r.*,
    COALESCE((SELECT jsonb_object_agg(l.key, l.value) FROM run_labels l WHERE l.run_id = r.id), '{}'::jsonb) AS labels,
    (SELECT count(*) FROM events e WHERE e.run_id = r.id AND e.seq IS NOT NULL) AS seq_count
  FROM runs r`;

const PATCH_COLUMNS: Record<keyof RunPatch, string> = {
  commandLine: 'command_line',
  nativeId: 'native_id',
  errorMessage: 'error_message',
  exitStatus: 'exit_status',
  startedAt: 'started_at',
  completedAt: 'completed_at',
  launchDir: 'launch_dir',
  outdir: 'outdir',
  workDir: 'work_dir',
};

const CELL_COLUMNS = [
  'barcode',
  'sample',
  'batch',
  'n_genes',
  'total_counts',
  'pct_counts_mt',
  'doublet_score',
  'leiden',
  'umap_x',
  'umap_y',
];

export class KyselyStore implements RunStore {
  /** Platform runs already told their Nextflow identity (saves a statement per event batch). */
  private readonly bound = new Set<string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly pool: pg.Pool,
  ) {}

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async createRun(r: NewRun): Promise<Run> {
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO runs (id, name, status, source, submitter, params, profiles, samplesheet, launcher, launch_dir, outdir, token_hash, resumed_from, command_line, owner)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
        [
          r.id,
          r.name,
          r.status,
          r.source,
          r.submitter ?? null,
          JSON.stringify(r.params ?? {}),
          r.profiles ?? [],
          r.samplesheet ?? null,
          r.launcher ?? null,
          r.launchDir ?? null,
          r.outdir ?? null,
          r.tokenHash ?? null,
          r.resumedFrom ?? null,
          r.commandLine ?? null,
          r.owner ?? null,
        ],
      );
      for (const [k, v] of Object.entries(r.labels ?? {}))
        await c.query('INSERT INTO run_labels (run_id, key, value) VALUES ($1,$2,$3)', [r.id, k, v]);
    });
    return (await this.getRun(r.id))!;
  }

  async getRun(id: string): Promise<Run | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query(`${RUN_SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async deleteRun(id: string): Promise<void> {
    await this.db.deleteFrom('runs').where('id', '=', id).execute();
  }

  async runTokenHash(id: string): Promise<string | null> {
    const r = await this.db.selectFrom('runs').select('token_hash').where('id', '=', id).executeTakeFirst();
    return r?.token_hash ?? null;
  }

  async listRuns(q: RunQuery): Promise<{ items: Run[]; total: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.status?.length) where.push(`r.status = ANY(${arg(q.status)})`);
    for (const l of q.label ?? []) {
      const eq = l.indexOf('=');
      if (eq < 0) where.push(`EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id AND l.key = ${arg(l)})`);
      else
        where.push(
          `EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id AND l.key = ${arg(l.slice(0, eq))} AND l.value = ${arg(l.slice(eq + 1))})`,
        );
    }
    if (q.submitter) where.push(`r.submitter = ${arg(q.submitter)}`);
    if (q.owner !== undefined) where.push(`r.owner = ${arg(q.owner)}`);
    if (q.from) where.push(`r.created_at >= ${arg(q.from)}`);
    if (q.to) where.push(`r.created_at < ${arg(q.to)}`);
    if (q.q) {
      const p = arg(`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(r.name ILIKE ${p} OR r.run_name ILIKE ${p} OR r.id::text ILIKE ${p} OR r.submitter ILIKE ${p})`);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = Number((await this.pool.query(`SELECT count(*) AS n FROM runs r ${filter}`, args)).rows[0].n);
    const page = [...where];
    if (q.cursor) page.push(`(r.created_at, r.id) < (${arg(q.cursor.createdAt)}::timestamptz, ${arg(q.cursor.id)}::uuid)`);
    const { rows } = await this.pool.query(
      `${RUN_SELECT} ${page.length ? `WHERE ${page.join(' AND ')}` : ''} ORDER BY r.created_at DESC, r.id DESC LIMIT ${arg(q.limit)}`,
      args,
    );
    return { items: rows.map(toRun), total };
  }

  async patchRun(id: string, patch: RunPatch): Promise<void> {
    const sets: string[] = [];
    const args: unknown[] = [id];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      args.push(v);
      sets.push(`${PATCH_COLUMNS[k as keyof RunPatch]} = $${args.length}`);
    }
    if (!sets.length) return;
    await this.pool.query(`UPDATE runs SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, args);
  }

  async advanceRun(id: string, status: RunStatus, patch: RunPatch = {}): Promise<boolean> {
    const { rowCount } = await this.pool.query(`UPDATE runs SET status = $2, updated_at = now() WHERE id = $1 AND ${RANK_OF_STATUS} < $3`, [
      id,
      status,
      RUN_STATUS_RANK[status],
    ]);
    if (rowCount) await this.patchRun(id, patch);
    return (rowCount ?? 0) > 0;
  }

  async activeRuns(launcher: string): Promise<Run[]> {
    const { rows } = await this.pool.query(`${RUN_SELECT} WHERE r.launcher = $1 AND r.status IN ('SUBMITTED','RUNNING')`, [launcher]);
    return rows.map(toRun);
  }

  private progressOf(rows: { status: string; n: unknown }[]): Progress {
    const p: Progress = { submitted: 0, running: 0, completed: 0, failed: 0, cached: 0, aborted: 0, total: 0 };
    for (const r of rows) {
      const n = Number(r.n);
      const k = r.status.toLowerCase() as keyof Progress;
      if (k in p && k !== 'total') p[k] += n;
      p.total += n;
    }
    return p;
  }

  async progress(id: string): Promise<Progress> {
    const { rows } = await this.pool.query('SELECT status, count(*) AS n FROM tasks WHERE run_id = $1 GROUP BY status', [id]);
    return this.progressOf(rows);
  }

  async processes(id: string): Promise<{ process: string; counts: Progress }[]> {
    const { rows } = await this.pool.query(
      `SELECT COALESCE(process, split_part(name, ' (', 1), '') AS process, status, count(*) AS n FROM tasks WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 1`,
      [id],
    );
    const by = new Map<string, { status: string; n: unknown }[]>();
    for (const r of rows) by.set(r.process, [...(by.get(r.process) ?? []), r]);
    return [...by].map(([process, rs]) => ({ process, counts: this.progressOf(rs) }));
  }

  async importTasks(runId: string, batches: AsyncIterable<TaskObservation[] | TaskRows>): Promise<{ rows: number }> {
    return this.tx(async (c) => {
      // The run row lock orders this import with event batches for the same run (they take it too).
      await c.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [runId]);
      const empty = !(await c.query('SELECT 1 FROM tasks WHERE run_id = $1 LIMIT 1', [runId])).rowCount;
      const source = batches[Symbol.asyncIterator]();
      const next = async () => {
        const { value, done } = await source.next();
        return done ? null : Array.isArray(value) ? rowsOf(value) : value;
      };
      let rows = 0;
      // The batch (and the row in it) where the direct COPY stopped, continued by the staged merge.
      let rest: { batch: TaskRows; from: number } | null = null;
      if (empty) {
        // Fast path for a run with no tasks yet: rows go straight into tasks with COPY, exactly as the merge would
        // insert them, until a (task_id, attempt) repeats; from there on the rest is staged and merged.
        const seen = new Set<number>();
        const direct = c.query(
          copyStreams.from(`COPY tasks (run_id, task_id, attempt, status, state_key, ${FIELD_COLS.join(', ')}, extra) FROM STDIN`),
        );
        async function* text() {
          for (;;) {
            const batch = await next();
            if (!batch) return;
            let i = 0;
            for (; i < batch.length; i++) {
              const key = batch.taskId[i]! * 1024 + (batch.attempt[i] ?? 1);
              if (seen.has(key)) break;
              seen.add(key);
            }
            rows += i;
            if (i < batch.length) {
              rest = { batch, from: i };
              yield rowsText({ ...batch, length: i }, 0, runId);
              return;
            }
            yield rowsText(batch, 0, runId);
          }
        }
        await pipeline(Readable.from(text()), direct);
        if (!rest) return { rows };
      }
      // One staging table per connection, emptied at commit: creating it per import would churn the catalog.
      await c.query(`CREATE TEMP TABLE IF NOT EXISTS tasks_in (${STAGE_COLUMNS.join(', ')}) ON COMMIT DELETE ROWS`);
      const staged = c.query(copyStreams.from('COPY tasks_in FROM STDIN'));
      const first = rest as { batch: TaskRows; from: number } | null;
      async function* stagedText() {
        if (first) {
          rows += first.batch.length - first.from;
          yield rowsText(first.batch, first.from, null);
        }
        for (;;) {
          const batch = await next();
          if (!batch) return;
          rows += batch.length;
          yield rowsText(batch, 0, null);
        }
      }
      await pipeline(Readable.from(stagedText()), staged);
      await this.mergeStaged(c, 'trace', `(SELECT $1::uuid AS run_id, * FROM tasks_in) s`, [runId], true);
      return { rows };
    });
  }

  /** Merges staged observations; when the source may repeat a key, keeps the highest state per key first. */
  private async mergeStaged(c: pg.PoolClient, name: string, from: string, args: unknown[], mayRepeat: boolean): Promise<void> {
    if (!mayRepeat) {
      await c.query({ name: `${name}_merge`, text: mergeSql(from, false), values: args });
      return;
    }
    await c.query('SAVEPOINT merge');
    try {
      await c.query({ name: `${name}_merge`, text: mergeSql(from, false), values: args });
    } catch (e) {
      if ((e as { code?: string }).code !== '21000') throw e;
      await c.query('ROLLBACK TO SAVEPOINT merge');
      await c.query({ name: `${name}_merge_distinct`, text: mergeSql(from, true), values: args });
    }
  }

  async applyEvents(events: IncomingEvent[]): Promise<{ stored: number; runIds: string[] }> {
    if (!events.length) return { stored: 0, runIds: [] };
    return this.tx(async (c) => {
      const runOf = await this.resolveRuns(c, events);
      // Same lock order as trace imports: a run's row first, then its tasks.
      await c.query('SELECT 1 FROM runs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [[...new Set(runOf)]]);
      const ids: string[] = [];
      const keys: string[] = [];
      const names: string[] = [];
      const seqs: (number | null)[] = [];
      const taskIds: (number | null)[] = [];
      const attempts: (number | null)[] = [];
      const times: string[] = [];
      const bodies: string[] = [];
      events.forEach((ie, i) => {
        const e = ie.event;
        ids.push(runOf[i]!);
        keys.push(dedupeKey(e));
        names.push(e.event);
        seqs.push(Number.isInteger(e.seq) ? (e.seq as number) : null);
        taskIds.push(Number.isInteger(e.trace?.task_id) ? (e.trace!.task_id as number) : null);
        attempts.push(Number.isInteger(e.trace?.attempt) ? (e.trace!.attempt as number) : null);
        times.push(ie.receivedAt.toISOString());
        // Postgres jsonb rejects \u0000; such a character cannot be meaningful in an event.
        bodies.push(JSON.stringify(e).replaceAll('\\u0000', ''));
      });
      const { rows: inserted } = await c.query({
        name: 'insert_events',
        text: `INSERT INTO events (run_id, dedupe_key, event, seq, task_id, attempt, received_at, body)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::timestamptz[], $8::jsonb[])
         ON CONFLICT (run_id, dedupe_key) DO NOTHING RETURNING run_id, dedupe_key`,
        values: [ids, keys, names, seqs, taskIds, attempts, times, bodies],
      });
      const fresh = new Set(inserted.map((r) => `${r.run_id}|${r.dedupe_key}`));
      const merged = new Map<string, TaskObservation & { runId: string }>();
      const perRun = new Map<string, { n: number; last: Date; seq: number | null; facts: RunFacts[] }>();
      events.forEach((ie, i) => {
        const k = `${ids[i]}|${keys[i]}`;
        if (!fresh.delete(k)) return; // duplicate (in this batch or already stored)
        const runId = ids[i]!;
        const agg = perRun.get(runId) ?? { n: 0, last: ie.receivedAt, seq: null, facts: [] };
        agg.n++;
        if (ie.receivedAt > agg.last) agg.last = ie.receivedAt;
        if (seqs[i] !== null) agg.seq = Math.max(agg.seq ?? 0, seqs[i]!);
        agg.facts.push(runFactsFromEvent(ie.event));
        perRun.set(runId, agg);
        const o = observationFromEvent(ie.event);
        if (!o) return;
        const tk = `${runId}|${o.taskId}|${o.attempt}`;
        const prev = merged.get(tk);
        merged.set(tk, prev ? { ...mergeObservations(prev, o), runId } : { ...o, runId });
      });
      if (merged.size) {
        const recs = [...merged.values()].map((o) => {
          const r: Record<string, unknown> = {
            run_id: o.runId,
            task_id: o.taskId,
            attempt: o.attempt,
            status: o.status,
            state_key: stateKey(o.status, o.source),
            extra: o.extra,
          };
          for (const f of TASK_FIELDS) r[f.column] = o.values[f.column] ?? null;
          return r;
        });
        // Observations are merged per key above; only a missing attempt can make two of them one row.
        await this.mergeStaged(
          c,
          'events',
          `jsonb_to_recordset($1::jsonb) AS s(run_id uuid, ${STAGE_COLUMNS.join(', ')})`,
          [JSON.stringify(recs).replaceAll('\\u0000', '')],
          recs.some((r) => r.attempt === null),
        );
      }
      for (const [runId, agg] of perRun) await this.applyRunFacts(c, runId, agg);
      return { stored: inserted.length, runIds: [...perRun.keys()] };
    });
  }

  private async applyRunFacts(c: pg.PoolClient, runId: string, agg: { n: number; last: Date; seq: number | null; facts: RunFacts[] }) {
    let status: RunStatus | null = null;
    const f: RunFacts = {};
    for (const x of agg.facts) {
      if (x.status && (status === null || RUN_STATUS_RANK[x.status] > RUN_STATUS_RANK[status])) status = x.status;
      for (const [k, v] of Object.entries(x)) if (k !== 'status' && v !== undefined && v !== null) (f as Record<string, unknown>)[k] = v;
    }
    await c.query(
      `UPDATE runs SET events_received = events_received + $2, last_event_at = GREATEST(last_event_at, $3::timestamptz),
         max_seq = CASE WHEN $4::int IS NULL THEN max_seq ELSE GREATEST(max_seq, $4::int) END,
         status = CASE WHEN $5::text IS NOT NULL AND ${RANK_OF_STATUS} < $6::int THEN $5::text ELSE status END,
         started_at = COALESCE(started_at, $7::timestamptz), completed_at = COALESCE($8::timestamptz, completed_at),
         command_line = COALESCE(command_line, $9), nextflow_version = COALESCE($10, nextflow_version),
         launch_dir = COALESCE(launch_dir, $11), work_dir = COALESCE(work_dir, $12), outdir = COALESCE(outdir, $13),
         params = CASE WHEN $14::jsonb IS NOT NULL AND params = '{}'::jsonb THEN $14::jsonb ELSE params END,
         error_message = COALESCE($15, error_message), exit_status = COALESCE($16, exit_status),
         profiles = CASE WHEN $17::text IS NOT NULL AND profiles = '{}' THEN string_to_array($17::text, ',') ELSE profiles END,
         updated_at = now()
       WHERE id = $1`,
      [
        runId,
        agg.n,
        agg.last.toISOString(),
        agg.seq,
        status,
        status === null ? null : RUN_STATUS_RANK[status],
        f.startedAt ?? null,
        f.completedAt ?? null,
        f.commandLine ?? null,
        f.nextflowVersion ?? null,
        f.launchDir ?? null,
        f.workDir ?? null,
        f.outdir ?? null,
        f.params ? JSON.stringify(f.params) : null,
        f.errorMessage ?? null,
        f.exitStatus ?? null,
        f.profile ?? null,
      ],
    );
  }

  /** Run id of each event: the token's run, the platform run it names, or the Nextflow run (created when first seen). */
  private async resolveRuns(c: pg.PoolClient, events: IncomingEvent[]): Promise<string[]> {
    const named = [...new Set(events.map((e) => e.event.platformRunId).filter((x): x is string => !!x))];
    const known = new Set<string>(
      named.length ? (await c.query('SELECT id FROM runs WHERE id = ANY($1::uuid[])', [named])).rows.map((r) => r.id) : [],
    );
    const out: (string | null)[] = events.map(
      (ie) => ie.tokenRunId ?? (ie.event.platformRunId && known.has(ie.event.platformRunId) ? ie.event.platformRunId : null),
    );
    const nfKey = (e: IncomingEvent) => `${e.event.runId}\u0000${e.event.runName}`;
    const missing = new Map<string, IncomingEvent>();
    events.forEach((ie, i) => {
      if (!out[i]) missing.set(nfKey(ie), ie);
    });
    // Tell platform runs their Nextflow identity, unless another run already holds it.
    const bound = new Map<string, IncomingEvent>();
    events.forEach((ie, i) => {
      if (out[i]) bound.set(out[i]!, ie);
    });
    for (const [id, ie] of bound) {
      if (this.bound.has(id)) continue;
      await c.query(
        `UPDATE runs SET session_id = $2, run_name = $3 WHERE id = $1 AND session_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.session_id = $2 AND o.run_name = $3)`,
        [id, ie.event.runId, ie.event.runName],
      );
      this.bound.add(id);
    }
    if (missing.size) {
      const sessions = [...missing.values()].map((e) => e.event.runId);
      const names = [...missing.values()].map((e) => e.event.runName);
      const owners = [...missing.values()].map((e) => e.owner);
      await c.query(
        `INSERT INTO runs (id, name, status, source, session_id, run_name, owner)
         SELECT gen_random_uuid(), n, 'RUNNING', 'weblog', s, n, o FROM unnest($1::text[], $2::text[], $3::text[]) AS x(s, n, o)
         ON CONFLICT DO NOTHING`,
        [sessions, names, owners],
      );
      const { rows } = await c.query(
        'SELECT id, session_id, run_name, owner FROM runs WHERE (session_id, run_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
        [sessions, names],
      );
      const byKey = new Map(rows.map((r) => [`${r.session_id}\u0000${r.run_name}`, r as { id: string; owner: string | null }]));
      events.forEach((ie, i) => {
        if (out[i]) return;
        const r = byKey.get(nfKey(ie));
        // The events route refuses a foreign run up front; this catches another token creating it meanwhile.
        if (r && !ie.admin && r.owner !== ie.owner)
          throw new DomainError('forbidden', `Nextflow run ${ie.event.runName} belongs to another token`, { field: 'runId' });
        out[i] = r?.id ?? null;
      });
    }
    return out.map((x) => {
      if (!x) throw new Error('event run could not be resolved');
      return x;
    });
  }

  async listEvents(runId: string, afterId: number, limit: number): Promise<{ id: number; body: unknown }[]> {
    const { rows } = await this.pool.query('SELECT id, body FROM events WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3', [
      runId,
      afterId,
      limit,
    ]);
    return rows;
  }

  private taskRow(r: Record<string, unknown>): TaskRow {
    const out: TaskRow = {};
    for (const c of TASK_COLUMNS) out[c] = DATES.has(c) ? iso(r[c] as Date | null) : (r[c] ?? null);
    out.extra = r.extra ?? {};
    return out;
  }

  /** WHERE clause and arguments of a task query's filters (values are always bound, columns checked). */
  private taskFilter(runId: string, filters: TaskQuery['filters']) {
    const args: unknown[] = [runId];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    const where = ['run_id = $1'];
    const ops = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
    for (const f of filters) {
      if (!TASK_COLUMNS.includes(f.column)) throw new Error(`unknown column ${f.column}`);
      if (f.op === 'like') where.push(`"${f.column}"::text ILIKE ${arg(`%${f.value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
      else if (TEXTUAL.has(f.column)) where.push(`"${f.column}" ${ops[f.op]} ${arg(f.value)}`);
      else if (DATES.has(f.column)) where.push(`"${f.column}" ${ops[f.op]} ${arg(f.value)}::timestamptz`);
      else where.push(`"${f.column}" ${ops[f.op]} ${arg(f.value)}::double precision`);
    }
    return { where, args, arg };
  }

  /** Sort column, then task_id and attempt so the order is total. NULLS only for nullable columns: it would stop the
   * primary key from serving an ORDER BY task_id. */
  private taskOrder(sort: string, order: 'asc' | 'desc'): string {
    if (!TASK_COLUMNS.includes(sort)) throw new Error(`unknown column ${sort}`);
    const nulls = NOT_NULL.has(sort) ? '' : order === 'desc' ? ' NULLS LAST' : ' NULLS FIRST';
    return `"${sort}" ${order === 'desc' ? 'DESC' : 'ASC'}${nulls}, task_id ${order === 'desc' ? 'DESC' : 'ASC'}, attempt`;
  }

  async listTasks(runId: string, q: TaskQuery): Promise<{ items: TaskRow[]; total: number }> {
    const { where, args, arg } = this.taskFilter(runId, q.filters);
    const order = this.taskOrder(q.sort, q.order);
    const filter = where.join(' AND ');
    const total = Number((await this.pool.query(`SELECT count(*) AS n FROM tasks WHERE ${filter}`, args)).rows[0].n);
    const { rows } = await this.pool.query(
      `SELECT * FROM tasks WHERE ${filter} ORDER BY ${order} LIMIT ${arg(q.limit)} OFFSET ${arg(q.offset)}`,
      args,
    );
    return { items: rows.map((r) => this.taskRow(r)), total };
  }

  async *taskPages(runId: string, q: TaskOrder, pageSize: number): AsyncGenerator<TaskRow[]> {
    const order = this.taskOrder(q.sort, q.order);
    const col = `"${q.sort}"`;
    let after: { key: string | null; taskId: number; attempt: number } | null = null;
    for (;;) {
      const { where, args, arg } = this.taskFilter(runId, q.filters);
      if (after) {
        // The keyset of ORDER BY taskOrder(): rows strictly after the last one sent. The key is the column's text
        // form, so a timestamptz keeps its microseconds; Postgres types the bare parameter from the column.
        const [t, a] = [arg(after.taskId), arg(after.attempt)];
        const desc = q.order === 'desc';
        const tie = desc ? `(task_id < ${t} OR (task_id = ${t} AND attempt > ${a}))` : `(task_id, attempt) > (${t}, ${a})`;
        if (q.sort === 'task_id') where.push(tie);
        else if (after.key === null)
          where.push(desc ? `(${col} IS NULL AND ${tie})` : `((${col} IS NULL AND ${tie}) OR ${col} IS NOT NULL)`);
        else {
          const k = arg(after.key);
          const beyond = `(${col} ${desc ? '<' : '>'} ${k} OR (${col} = ${k} AND ${tie}))`;
          where.push(desc && !NOT_NULL.has(q.sort) ? `(${beyond} OR ${col} IS NULL)` : beyond);
        }
      }
      const { rows } = await this.pool.query(
        `SELECT *, ${col}::text AS "__sort_key" FROM tasks WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${arg(pageSize)}`,
        args,
      );
      if (rows.length) yield rows.map((r) => this.taskRow(r));
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1];
      after = { key: last.__sort_key, taskId: last.task_id, attempt: last.attempt };
    }
  }

  async getTask(runId: string, taskId: number): Promise<TaskRow | null> {
    const { rows } = await this.pool.query('SELECT * FROM tasks WHERE run_id = $1 AND task_id = $2 ORDER BY attempt DESC LIMIT 1', [
      runId,
      taskId,
    ]);
    return rows[0] ? this.taskRow(rows[0]) : null;
  }

  async saveResults(runId: string, b: ResultsBundle): Promise<void> {
    await this.tx(async (c) => {
      for (const t of ['samples', 'outputs', 'cells', 'barcode_ranks']) await c.query(`DELETE FROM ${t} WHERE run_id = $1`, [runId]);
      for (const s of b.samples)
        await c.query(
          `INSERT INTO samples (run_id, sample, batch, chemistry, registration, metrics, qc_thresholds, cells_before_qc, cells_after_qc)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
          [
            runId,
            s.sample,
            s.batch,
            s.chemistry,
            JSON.stringify(s.registration),
            JSON.stringify(s.metrics),
            JSON.stringify(s.qcThresholds),
            s.cellsBeforeQc,
            s.cellsAfterQc,
          ],
        );
      if (b.outputs.length)
        await c.query(
          `INSERT INTO outputs (run_id, path, kind, sample, size, sha256)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])`,
          [
            runId,
            b.outputs.map((o) => o.path),
            b.outputs.map((o) => o.kind),
            b.outputs.map((o) => o.sample),
            b.outputs.map((o) => o.size),
            b.outputs.map((o) => o.sha256),
          ],
        );
      if (b.cells) await this.copyCells(c, runId, b.cells);
      if (b.barcodeRanks.length) {
        const r = b.barcodeRanks;
        await c.query(
          `INSERT INTO barcode_ranks (run_id, sample, rank, umi_count, is_cell)
           SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::bool[]) ON CONFLICT DO NOTHING`,
          [runId, r.map((x) => x.sample), r.map((x) => x.rank), r.map((x) => x.umi_count), r.map((x) => x.is_cell)],
        );
      }
      await c.query('UPDATE runs SET manifest = $2, integration = $3, results_ingested_at = now(), updated_at = now() WHERE id = $1', [
        runId,
        JSON.stringify(b.manifest),
        b.integration ? JSON.stringify(b.integration) : null,
      ]);
    });
  }

  private async copyCells(c: pg.PoolClient, runId: string, cells: CellColumns): Promise<void> {
    const n = cells.barcode?.length ?? 0;
    const extras = Object.keys(cells).filter((k) => !CELL_COLUMNS.includes(k));
    const copy = c.query(copyStreams.from(`COPY cells (run_id, idx, ${CELL_COLUMNS.join(', ')}, extra) FROM STDIN`));
    function* text() {
      for (let start = 0; start < n; start += 5000) {
        let chunk = '';
        for (let i = start; i < Math.min(n, start + 5000); i++) {
          chunk += `${runId}\t${i}`;
          for (const k of CELL_COLUMNS) chunk += `\t${copyEscape(cells[k]?.[i] ?? null)}`;
          const extra: Record<string, unknown> = {};
          for (const k of extras) extra[k] = cells[k]![i];
          chunk += `\t${copyEscape(extra)}\n`;
        }
        yield chunk;
      }
    }
    await pipeline(Readable.from(text()), copy);
  }

  async samples(runId: string): Promise<SampleRow[]> {
    const rows = await this.db.selectFrom('samples').selectAll().where('run_id', '=', runId).orderBy('sample').execute();
    return rows.map((r) => ({
      sample: r.sample,
      batch: r.batch,
      chemistry: r.chemistry,
      registration: r.registration,
      metrics: r.metrics,
      qcThresholds: r.qc_thresholds,
      cellsBeforeQc: r.cells_before_qc,
      cellsAfterQc: r.cells_after_qc,
    }));
  }

  async integration(runId: string): Promise<Record<string, unknown> | null> {
    const r = await this.db.selectFrom('runs').select('integration').where('id', '=', runId).executeTakeFirst();
    return r?.integration ?? null;
  }

  async cellColumnNames(runId: string): Promise<string[]> {
    const { rows } = await this.pool.query(
      'SELECT DISTINCT jsonb_object_keys(extra) AS k FROM (SELECT extra FROM cells WHERE run_id = $1 LIMIT 1000) x',
      [runId],
    );
    return [...CELL_COLUMNS, ...rows.map((r) => r.k as string).sort()];
  }

  async cells(runId: string, columns: string[] | null): Promise<CellColumns | null> {
    const names = columns ?? (await this.cellColumnNames(runId));
    const exprs = names.map((n, i) => (CELL_COLUMNS.includes(n) ? `"${n}" AS c${i}` : `extra -> ($2::text[])[${i + 1}] AS c${i}`));
    const { rows } = await this.pool.query({
      text: `SELECT ${exprs.join(', ')} FROM cells WHERE run_id = $1 AND $2::text[] IS NOT NULL ORDER BY idx`,
      values: [runId, names],
      rowMode: 'array',
    });
    if (!rows.length) return null;
    const out: CellColumns = {};
    names.forEach((n, i) => {
      out[n] = rows.map((r: unknown[]) => r[i] ?? null);
    });
    return out;
  }

  async barcodeRanks(runId: string) {
    const { rows } = await this.pool.query(
      'SELECT sample, rank, umi_count, is_cell FROM barcode_ranks WHERE run_id = $1 ORDER BY sample, rank',
      [runId],
    );
    return {
      sample: rows.map((r) => r.sample as string),
      rank: rows.map((r) => r.rank as number),
      umi_count: rows.map((r) => r.umi_count as number),
      is_cell: rows.map((r) => r.is_cell as boolean),
    };
  }

  async findToken(hash: string): Promise<{ id: string; admin: boolean } | null> {
    const r = await this.db.selectFrom('tokens').select(['id', 'admin']).where('token_hash', '=', hash).executeTakeFirst();
    return r ?? null;
  }

  async findRunByTokenHash(hash: string): Promise<string | null> {
    const r = await this.db.selectFrom('runs').select('id').where('token_hash', '=', hash).executeTakeFirst();
    return r?.id ?? null;
  }

  async ownedRunIds(ids: string[], owner: string): Promise<string[]> {
    if (!ids.length) return [];
    const rows = await this.db.selectFrom('runs').select('id').where('id', 'in', ids).where('owner', '=', owner).execute();
    return rows.map((r) => r.id);
  }

  async nextflowRunOwner(sessionId: string, runName: string): Promise<string | null | undefined> {
    const r = await this.db
      .selectFrom('runs')
      .select('owner')
      .where('session_id', '=', sessionId)
      .where('run_name', '=', runName)
      .executeTakeFirst();
    return r ? r.owner : undefined;
  }

  async createToken(t: { id: string; name: string; hash: string; admin: boolean }): Promise<void> {
    await this.db.insertInto('tokens').values({ id: t.id, name: t.name, token_hash: t.hash, admin: t.admin, last_used_at: null }).execute();
  }

  async registerUpload(u: NewUpload) {
    const r = await this.db
      .insertInto('uploads')
      .values(u)
      .onConflict((oc) => oc.column('uri').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (r) return { id: r.id, created: true };
    const existing = await this.db.selectFrom('uploads').select('id').where('uri', '=', u.uri).executeTakeFirstOrThrow();
    return { id: existing.id, created: false };
  }
}
