// A run's timeline: one bar per task attempt, from the times its row holds. Runs reconstructed from a trace with
// Nextflow's default columns have no start/complete, only submit, duration (submit -> end) and realtime (start -> end),
// so a bar is derived from those and says which fields it came from.

/** The task times a bar is drawn from, column-wise (epoch ms; NaN where the row has no value). */
export interface TimelineRows {
  taskId: Int32Array;
  attempt: Int32Array;
  process: (string | null)[];
  tag: (string | null)[];
  status: string[];
  submit: Float64Array;
  start: Float64Array;
  complete: Float64Array;
  /** ms from submit to end (Nextflow's `duration`). */
  duration: Float64Array;
  /** ms from start to end (Nextflow's `realtime`). */
  realtime: Float64Array;
}

/**
 * Which fields a bar came from: `start-complete` (the recorded times; end = start + realtime while complete is
 * missing), `submit-duration` (end = submit + duration, start = end - realtime, else submit), `submit-realtime`
 * (start = submit, end = submit + realtime), `open` (start or submit only: a task still going), `none` (no time).
 */
export const SPAN_BASES = ['start-complete', 'submit-duration', 'submit-realtime', 'open', 'none'] as const;
export type SpanBasis = (typeof SPAN_BASES)[number];

export interface Timeline {
  rows: TimelineRows;
  /** When the task was queued (submit), the bar's start and end; NaN when unknown (an open bar has no end). */
  queued: Float64Array;
  barStart: Float64Array;
  barEnd: Float64Array;
  basis: SpanBasis[];
  /** Tasks per basis, so a reader sees at once whether the bars are recorded or derived. */
  bases: Record<SpanBasis, number>;
}

const has = (v: number) => !Number.isNaN(v);

export function timelineOf(rows: TimelineRows): Timeline {
  const n = rows.taskId.length;
  const barStart = new Float64Array(n).fill(Number.NaN);
  const barEnd = new Float64Array(n).fill(Number.NaN);
  const basis: SpanBasis[] = new Array(n);
  const bases = Object.fromEntries(SPAN_BASES.map((b) => [b, 0])) as Record<SpanBasis, number>;
  const { submit, start, complete, duration, realtime } = rows;
  for (let i = 0; i < n; i++) {
    let b: SpanBasis;
    if (has(start[i]!)) {
      barStart[i] = start[i]!;
      barEnd[i] = has(complete[i]!) ? complete[i]! : has(realtime[i]!) ? start[i]! + realtime[i]! : Number.NaN;
      b = has(barEnd[i]!) ? 'start-complete' : 'open';
    } else if (has(submit[i]!) && has(duration[i]!)) {
      barEnd[i] = submit[i]! + duration[i]!;
      // realtime <= duration for a real task; clamp so a rounded trace never starts a bar before its submit.
      barStart[i] = has(realtime[i]!) ? Math.max(submit[i]!, barEnd[i]! - realtime[i]!) : submit[i]!;
      b = 'submit-duration';
    } else if (has(submit[i]!) && has(realtime[i]!)) {
      barStart[i] = submit[i]!;
      barEnd[i] = submit[i]! + realtime[i]!;
      b = 'submit-realtime';
    } else if (has(submit[i]!)) {
      barStart[i] = submit[i]!;
      b = 'open';
    } else b = 'none';
    basis[i] = b;
    bases[b]++;
  }
  return { rows, queued: submit, barStart, barEnd, basis, bases };
}
