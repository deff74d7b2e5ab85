// Writing task observations: the trace import (COPY, straight into tasks or through a staging table) and the merge
// that folds observations into task rows. Raw SQL throughout: COPY and one INSERT .. ON CONFLICT over a whole batch
// are what bench/trace-import.ts measures (the builder has no COPY and would bind every value of a 1,000-row batch).
import type pg from 'pg';
import type { RunTaskObservation } from '../../domain/repositories.js';
import { stateKey, TASK_FIELDS, type TaskObservation } from '../../domain/task-fields.js';
import { rowsOf, type TaskRows } from '../../domain/trace-parser.js';
import { copyEscape, copyFrom } from './copy.js';
import type { Queryable } from './scope.js';

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
const FIELD_KINDS = TASK_FIELDS.map((f) => f.kind);

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
      extra = CASE WHEN EXCLUDED.state_key > tasks.state_key THEN tasks.extra || EXCLUDED.extra ELSE EXCLUDED.extra || tasks.extra END
    -- Only rows the merge changes are written: a lower or equal state only fills gaps, so a re-imported trace whose
    -- rows are all there already writes nothing (no new row versions, no index entries).
    WHERE EXCLUDED.state_key > tasks.state_key
      OR ${FIELD_COLS.map((c) => `(tasks.${c} IS NULL AND EXCLUDED.${c} IS NOT NULL)`).join(' OR ')}
      OR (EXCLUDED.extra || tasks.extra) <> tasks.extra`;
}

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

/** Merges staged observations; when the source may repeat a key, keeps the highest state per key first. */
async function mergeStaged(c: Queryable, name: string, from: string, args: unknown[], mayRepeat: boolean): Promise<void> {
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

/** Merges observations (at most one per key, but an unknown attempt may meet a known one) in one statement. */
export async function mergeObservations(c: Queryable, observations: RunTaskObservation[]): Promise<void> {
  const recs = observations.map((o) => {
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
  // Postgres jsonb rejects \u0000; such a character cannot be meaningful in a task field.
  await mergeStaged(
    c,
    'events',
    `jsonb_to_recordset($1::jsonb) AS s(run_id uuid, ${STAGE_COLUMNS.join(', ')})`,
    [JSON.stringify(recs).replaceAll('\\u0000', '')],
    recs.some((r) => r.attempt === null),
  );
}

/** The trace import, on a transaction's client (see TaskRepository.import). */
export async function importTasks(
  c: pg.PoolClient,
  runId: string,
  batches: AsyncIterable<TaskObservation[] | TaskRows>,
): Promise<{ rows: number }> {
  // The run row lock orders this import with event batches for the same run (they take it too). Moving updated_at
  // on by at least a millisecond (its precision in a Run) tells the task list's caches that the tasks may have changed
  // (http/task-pages.ts); an event batch tells them by its events_received.
  await c.query(`UPDATE runs SET updated_at = greatest(now(), updated_at + interval '1 millisecond') WHERE id = $1`, [runId]);
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
    await copyFrom(c, `COPY tasks (run_id, task_id, attempt, status, state_key, ${FIELD_COLS.join(', ')}, extra) FROM STDIN`, text());
    if (!rest) return { rows };
  }
  // One staging table per connection, emptied at commit: creating it per import would churn the catalog.
  await c.query(`CREATE TEMP TABLE IF NOT EXISTS tasks_in (${STAGE_COLUMNS.join(', ')}) ON COMMIT DELETE ROWS`);
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
  await copyFrom(c, 'COPY tasks_in FROM STDIN', stagedText());
  await mergeStaged(c, 'trace', `(SELECT $1::uuid AS run_id, * FROM tasks_in) s`, [runId], true);
  return { rows };
}
