// The timeline's task times, read column-wise: the query is built with Kysely and run in array row mode, so a
// 100k-task run costs one array per row instead of an object with eleven keys.
import { sql } from 'kysely';
import type { TimelineRepository } from '../../domain/repositories.js';
import type { TimelineRows } from '../../domain/timeline.js';
import type { Scope } from './scope.js';

const epochMs = (column: string) => sql<number | null>`extract(epoch from ${sql.ref(column)}) * 1000`;

export class KyselyTimelineRepository implements TimelineRepository {
  constructor(private readonly s: Scope) {}

  async rows(runId: string): Promise<TimelineRows> {
    const q = this.s.db
      .selectFrom('tasks')
      .select([
        'task_id',
        'attempt',
        // A trace without a process column still names the task `PROC (tag)`.
        sql<string>`COALESCE(process, split_part(name, ' (', 1))`.as('process'),
        'tag',
        'status',
        epochMs('submit').as('submit'),
        epochMs('start').as('start'),
        epochMs('complete').as('complete'),
        'duration',
        'realtime',
      ])
      .where('run_id', '=', runId)
      .orderBy('task_id')
      .orderBy('attempt')
      .compile();
    const { rows } = await this.s.sql.query<unknown[]>({ text: q.sql, values: q.parameters as unknown[], rowMode: 'array' });
    const n = rows.length;
    const out: TimelineRows = {
      taskId: new Int32Array(n),
      attempt: new Int32Array(n),
      process: new Array(n),
      tag: new Array(n),
      status: new Array(n),
      submit: new Float64Array(n),
      start: new Float64Array(n),
      complete: new Float64Array(n),
      duration: new Float64Array(n),
      realtime: new Float64Array(n),
    };
    const num = (v: unknown) => (v === null ? Number.NaN : Number(v));
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      out.taskId[i] = r[0] as number;
      out.attempt[i] = r[1] as number;
      out.process[i] = r[2] as string | null;
      out.tag[i] = r[3] as string | null;
      out.status[i] = r[4] as string;
      out.submit[i] = num(r[5]);
      out.start[i] = num(r[6]);
      out.complete[i] = num(r[7]);
      out.duration[i] = num(r[8]);
      out.realtime[i] = num(r[9]);
    }
    return out;
  }
}
