// Task rows: the trace import and the event merge (task-merge.ts), the filtered and sorted task list, the keyset
// pages of a CSV export, and the counts progress is made of.
import { sql } from 'kysely';
import type { TaskCursor, TaskOrder, TaskQuery, TaskRow } from '../../domain/ports.js';
import type { RunTaskObservation, TaskOutcome, TaskRepository } from '../../domain/repositories.js';
import { TASK_FIELDS, type TaskObservation } from '../../domain/task-fields.js';
import type { TaskRows } from '../../domain/trace-parser.js';
import { iso } from './rows.js';
import type { Scope } from './scope.js';
import { importTasks, mergeObservations } from './task-merge.js';

const TASK_COLUMNS = ['task_id', 'attempt', 'status', ...TASK_FIELDS.map((f) => f.column)];
const TEXTUAL = new Set(['status', ...TASK_FIELDS.filter((f) => f.kind === 'str').map((f) => f.column)]);
const DATES = new Set(TASK_FIELDS.filter((f) => f.kind === 'date').map((f) => f.column));
const NOT_NULL = new Set(['task_id', 'attempt', 'status']);

const cursorOf = (r: Record<string, unknown>): TaskCursor => ({
  key: (r.__sort_key as string | null) ?? null,
  taskId: r.task_id as number,
  attempt: r.attempt as number,
});

function taskRow(r: Record<string, unknown>): TaskRow {
  const out: TaskRow = {};
  for (const c of TASK_COLUMNS) out[c] = DATES.has(c) ? iso(r[c] as Date | null) : (r[c] ?? null);
  out.extra = r.extra ?? {};
  return out;
}

// The task queries below are raw SQL: any column sorts and filters, with casts by the column's kind and a keyset
// over the sort column; the text is what test/api/trace-tasks.test.ts and bounds.test.ts pin down.

/** WHERE clause and arguments of a task query's filters (values are always bound, columns checked). */
function taskFilter(runId: string, filters: TaskQuery['filters']) {
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

/** Sort column, then task_id and attempt so the order is total; desc is the exact reverse of asc, so one index
 * (run_id, column NULLS FIRST, task_id, attempt) serves both directions (0006_task_indexes), which needs the NULLS
 * clause spelled out even on status (NOT NULL). Not on the key: it would stop the primary key (NULLS LAST) from
 * serving an ORDER BY task_id. */
function taskOrder(sort: string, order: 'asc' | 'desc'): string {
  if (!TASK_COLUMNS.includes(sort)) throw new Error(`unknown column ${sort}`);
  const dir = order === 'desc' ? 'DESC' : 'ASC';
  const nulls = sort === 'attempt' ? '' : order === 'desc' ? ' NULLS LAST' : ' NULLS FIRST';
  return sort === 'task_id' ? `task_id ${dir}, attempt ${dir}` : `"${sort}" ${dir}${nulls}, task_id ${dir}, attempt ${dir}`;
}

/**
 * The keyset of ORDER BY taskOrder(): the rows strictly after `after`, as segments read one after the other. Each is a
 * row comparison the sort index answers as a range; NULLs (first when ascending, last when descending) are their own
 * segment, because a row comparison never matches a NULL. The key is the column's text form, so a timestamptz keeps
 * its microseconds; Postgres types the bare parameter from the column.
 */
function keysetSegments(q: TaskOrder, after: TaskCursor): ((arg: (v: unknown) => string) => string)[] {
  const desc = q.order === 'desc';
  const cmp = desc ? '<' : '>';
  const tie = (arg: (v: unknown) => string) => `(task_id, attempt) ${cmp} (${arg(after.taskId)}, ${arg(after.attempt)})`;
  if (q.sort === 'task_id') return [tie];
  const col = `"${q.sort}"`;
  if (after.key === null) {
    const rest = (arg: (v: unknown) => string) => `${col} IS NULL AND ${tie(arg)}`;
    return desc ? [rest] : [rest, () => `${col} IS NOT NULL`];
  }
  const beyond = (arg: (v: unknown) => string) =>
    `(${col}, task_id, attempt) ${cmp} (${arg(after.key)}, ${arg(after.taskId)}, ${arg(after.attempt)})`;
  return desc && !NOT_NULL.has(q.sort) ? [beyond, () => `${col} IS NULL`] : [beyond];
}

export class KyselyTaskRepository implements TaskRepository {
  constructor(private readonly s: Scope) {}

  import(runId: string, batches: AsyncIterable<TaskObservation[] | TaskRows>): Promise<{ rows: number }> {
    return this.s.transaction(({ client }) => importTasks(client, runId, batches));
  }

  merge(observations: RunTaskObservation[]): Promise<void> {
    return mergeObservations(this.s.sql, observations);
  }

  async count(runId: string, filters: TaskQuery['filters']): Promise<number> {
    const { where, args } = taskFilter(runId, filters);
    return Number((await this.s.sql.query(`SELECT count(*) AS n FROM tasks WHERE ${where.join(' AND ')}`, args)).rows[0].n);
  }

  async list(runId: string, q: TaskQuery): Promise<{ items: TaskRow[]; next: TaskCursor | null }> {
    // One row more than the page tells whether there is a next one.
    const rows = await this.rows(runId, q, q.limit + 1, q.after ? 0 : q.offset);
    const items = rows.slice(0, q.limit);
    return { items: items.map(taskRow), next: rows.length > q.limit ? cursorOf(items[items.length - 1]!) : null };
  }

  async *pages(runId: string, q: TaskOrder, pageSize: number): AsyncGenerator<TaskRow[]> {
    let after: TaskCursor | undefined;
    for (;;) {
      const rows = await this.rows(runId, { ...q, after }, pageSize, 0);
      if (rows.length) yield rows.map(taskRow);
      if (rows.length < pageSize) return;
      after = cursorOf(rows[rows.length - 1]!);
    }
  }

  /** Up to `limit` rows in taskOrder(), skipping `offset` or starting after `q.after`, with their sort key. */
  private async rows(runId: string, q: TaskOrder & { after?: TaskCursor }, limit: number, offset: number) {
    const order = taskOrder(q.sort, q.order);
    const key = q.sort === 'task_id' ? 'NULL' : `"${q.sort}"::text`;
    const segments = q.after ? keysetSegments(q, q.after) : [null];
    const out: Record<string, unknown>[] = [];
    for (const segment of segments) {
      if (out.length >= limit) break;
      const { where, args, arg } = taskFilter(runId, q.filters);
      if (segment) where.push(segment(arg));
      const { rows } = await this.s.sql.query(
        `SELECT *, ${key} AS "__sort_key" FROM tasks WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${arg(limit - out.length)}${offset ? ` OFFSET ${arg(offset)}` : ''}`,
        args,
      );
      out.push(...rows);
    }
    return out;
  }

  async get(runId: string, taskId: number): Promise<TaskRow | null> {
    const r = await this.s.db
      .selectFrom('tasks')
      .selectAll()
      .where('run_id', '=', runId)
      .where('task_id', '=', taskId)
      .orderBy('attempt', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? taskRow(r) : null;
  }

  async statusCounts(runId: string): Promise<{ status: string; n: number }[]> {
    const rows = await this.s.db
      .selectFrom('tasks')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('run_id', '=', runId)
      .groupBy('status')
      .execute();
    return rows.map((r) => ({ status: r.status as string, n: Number(r.n) }));
  }

  async outcome(runId: string): Promise<TaskOutcome> {
    // A retry is a new task id with the same name: the last attempt of each name says how that task ended.
    const { rows } = await sql<{ first: Date | null; last: Date | null; tasks: string; fatal: string; undetermined: string }>`
      WITH latest AS (
        SELECT DISTINCT ON (coalesce(name, task_id::text)) status, error_action FROM tasks WHERE run_id = ${runId}
        ORDER BY coalesce(name, task_id::text), attempt DESC NULLS LAST, task_id DESC)
      SELECT (SELECT min(coalesce(start, submit)) FROM tasks WHERE run_id = ${runId}) AS first,
             (SELECT max(coalesce(complete, submit + coalesce(realtime, duration) * interval '1 millisecond'))
                FROM tasks WHERE run_id = ${runId}) AS last,
             count(*) AS tasks,
             count(*) FILTER (WHERE status = 'FAILED' AND error_action IN ('TERMINATE', 'FINISH')) AS fatal,
             count(*) FILTER (WHERE status = 'FAILED' AND error_action IS NULL) AS undetermined
      FROM latest`.execute(this.s.db);
    const r = rows[0]!;
    const n = (v: string) => Number(v);
    return { firstStart: iso(r.first), lastEnd: iso(r.last), tasks: n(r.tasks), fatal: n(r.fatal), undetermined: n(r.undetermined) };
  }

  async processStatusCounts(runId: string): Promise<{ process: string; status: string; n: number }[]> {
    const rows = await this.s.db
      .selectFrom('tasks')
      .select((eb) => [
        sql<string>`COALESCE(process, split_part(name, ' (', 1), '')`.as('process'),
        'status',
        eb.fn.countAll<number>().as('n'),
      ])
      .where('run_id', '=', runId)
      .groupBy(sql`1, 2`)
      .orderBy(sql`1`)
      .execute();
    return rows.map((r) => ({ process: r.process, status: r.status as string, n: Number(r.n) }));
  }
}
