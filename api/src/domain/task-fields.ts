// The task columns the platform keeps, shared by the trace parser, the event mapper and the store.
// Names follow Nextflow's TraceRecord fields; `%cpu`/`%mem` become pct_cpu/pct_mem.

/** How a value is written in a trace file (normal mode) or a weblog event. */
export type FieldKind = 'str' | 'int' | 'num' | 'date' | 'time' | 'mem' | 'perc';

export interface TaskField {
  /** Nextflow trace field name. */
  trace: string;
  /** Database column. */
  column: string;
  kind: FieldKind;
}

const f = (trace: string, kind: FieldKind, column = trace): TaskField => ({ trace, column, kind });

/** Every typed column of the tasks table except the key (task_id, attempt) and status. */
export const TASK_FIELDS: readonly TaskField[] = [
  f('hash', 'str'),
  f('native_id', 'str'),
  f('process', 'str'),
  f('module', 'str'),
  f('container', 'str'),
  f('tag', 'str'),
  f('name', 'str'),
  f('exit', 'int'),
  f('submit', 'date'),
  f('start', 'date'),
  f('complete', 'date'),
  f('duration', 'time'),
  f('realtime', 'time'),
  f('%cpu', 'perc', 'pct_cpu'),
  f('%mem', 'perc', 'pct_mem'),
  f('rss', 'mem'),
  f('vmem', 'mem'),
  f('peak_rss', 'mem'),
  f('peak_vmem', 'mem'),
  f('rchar', 'mem'),
  f('wchar', 'mem'),
  f('syscr', 'num'),
  f('syscw', 'num'),
  f('read_bytes', 'mem'),
  f('write_bytes', 'mem'),
  f('workdir', 'str'),
  f('scratch', 'str'),
  f('queue', 'str'),
  f('cpus', 'int'),
  f('memory', 'mem'),
  f('disk', 'mem'),
  f('time', 'time'),
  f('error_action', 'str'),
  f('vol_ctxt', 'num'),
  f('inv_ctxt', 'num'),
  f('hostname', 'str'),
  f('cpu_model', 'str'),
];

export const FIELD_BY_TRACE = new Map(TASK_FIELDS.map((x) => [x.trace, x]));
export const FIELD_BY_COLUMN = new Map(TASK_FIELDS.map((x) => [x.column, x]));

/** Forward-only task states. Terminal states get distinct ranks so any two observations merge the same way in any order. */
export const TASK_STATUS_RANK: Record<string, number> = {
  NEW: 0,
  SUBMITTED: 1,
  RUNNING: 2,
  ABORTED: 3,
  FAILED: 4,
  COMPLETED: 5,
  CACHED: 6,
};
export const TASK_STATUSES = Object.keys(TASK_STATUS_RANK);

/** Where an observation of a task came from; events carry exact typed values and win over a trace row of the same state. */
export type TaskSource = 'trace' | 'event';

/** Precedence of an observation: higher wins for the columns it has; lower ones only fill gaps. */
export function stateKey(status: string, source: TaskSource): number {
  return (TASK_STATUS_RANK[status] ?? 0) * 2 + (source === 'event' ? 1 : 0);
}

export type TaskValue = string | number | null;

/** One observation of a task (a trace row or an event's trace map), normalised to column values. */
export interface TaskObservation {
  taskId: number;
  /** null when the trace file has no attempt column: the store keeps the attempt it already knows, else 1. */
  attempt: number | null;
  status: string;
  source: TaskSource;
  /** Column -> value; dates as epoch milliseconds, durations in ms, memory in bytes. */
  values: Record<string, TaskValue>;
  /** Fields the platform has no column for, kept as they came. */
  extra: Record<string, unknown>;
}

/** Merges b into a with the store's rule (higher state key wins per non-null column), for batching in memory. */
export function mergeObservations(a: TaskObservation, b: TaskObservation): TaskObservation {
  const ka = stateKey(a.status, a.source);
  const kb = stateKey(b.status, b.source);
  const [hi, lo] = kb > ka ? [b, a] : [a, b];
  const values: Record<string, TaskValue> = { ...lo.values };
  for (const [k, v] of Object.entries(hi.values)) if (v !== null && v !== undefined) values[k] = v;
  return {
    taskId: a.taskId,
    attempt: hi.attempt ?? lo.attempt,
    status: hi.status,
    source: hi.source,
    values,
    extra: { ...lo.extra, ...hi.extra },
  };
}
