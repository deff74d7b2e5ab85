// Timeline layout for runs of any size: the API's Arrow columns (GET /runs/:id/timeline) -> one lane per process,
// tasks packed into rows inside their lane (greedy, earliest free row) so concurrent tasks do not overlap, and a
// hit test that finds the task under a point without scanning every task.
import type { Table } from 'apache-arrow';
import { categorical } from './arrow.js';

export interface TimelineData {
  n: number;
  taskId: Int32Array;
  attempt: Int32Array;
  process: { codes: Uint32Array; labels: string[] };
  tag: { codes: Uint32Array; labels: string[] };
  status: { codes: Uint32Array; labels: string[] };
  basis: { codes: Uint32Array; labels: string[] };
  queued: Float64Array;
  start: Float64Array;
  /** NaN for a bar still open (drawn to `now`). */
  end: Float64Array;
}

const f64 = (t: Table, name: string) => (t.getChild(name)?.toArray() as Float64Array | undefined) ?? new Float64Array(t.numRows);
const i32 = (t: Table, name: string) => (t.getChild(name)?.toArray() as Int32Array | undefined) ?? new Int32Array(t.numRows);
function dict(t: Table, name: string) {
  const v = t.getChild(name);
  return v ? categorical(v, name) : { codes: new Uint32Array(t.numRows), labels: ['(none)'] };
}

export function timelineData(t: Table): TimelineData {
  return {
    n: t.numRows,
    taskId: i32(t, 'task_id'),
    attempt: i32(t, 'attempt'),
    process: dict(t, 'process'),
    tag: dict(t, 'tag'),
    status: dict(t, 'status'),
    basis: dict(t, 'basis'),
    queued: f64(t, 'queued'),
    start: f64(t, 'start'),
    end: f64(t, 'end'),
  };
}

export interface Lane {
  process: string;
  firstRow: number;
  rows: number;
  tasks: number;
}

export interface TimelineLayout {
  t0: number;
  t1: number;
  lanes: Lane[];
  rows: number;
  /** Each task's row (-1: no bar). */
  row: Int32Array;
  /** Per row, its tasks sorted by start (for the hit test). */
  byRow: Int32Array[];
  /** Tasks drawn, tasks without any time. */
  drawn: number;
  untimed: number;
}

/** Rows a lane may take: past it, tasks share rows (drawn over each other) so a lane never grows unbounded. */
export const MAX_ROWS_PER_LANE = 24;

/** The bar's end for drawing: an open bar runs to `now` (or to its own start when now is earlier). */
export const endOf = (d: TimelineData, i: number, now: number) => (Number.isNaN(d.end[i]!) ? Math.max(now, d.start[i]!) : d.end[i]!);

export function layoutTimeline(d: TimelineData, now: number): TimelineLayout {
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  const perProcess: number[][] = d.process.labels.map(() => []);
  let untimed = 0;
  for (let i = 0; i < d.n; i++) {
    if (Number.isNaN(d.start[i]!)) {
      untimed++;
      continue;
    }
    const q = d.queued[i]!;
    t0 = Math.min(t0, Number.isNaN(q) ? d.start[i]! : Math.min(q, d.start[i]!));
    t1 = Math.max(t1, endOf(d, i, now));
    perProcess[d.process.codes[i]!]!.push(i);
  }
  const row = new Int32Array(d.n).fill(-1);
  const byRow: number[][] = [];
  const lanes: Lane[] = [];
  // Lanes in the order their first task started: reads like the pipeline's flow.
  const order = perProcess
    .map((tasks, p) => ({ p, tasks }))
    .filter((x) => x.tasks.length)
    .map((x) => {
      x.tasks.sort((a, b) => d.start[a]! - d.start[b]! || a - b);
      return x;
    })
    .sort((a, b) => d.start[a.tasks[0]!]! - d.start[b.tasks[0]!]!);
  for (const { p, tasks } of order) {
    const firstRow = byRow.length;
    const rowEnd: number[] = [];
    for (const i of tasks) {
      const s = d.start[i]!;
      let r = rowEnd.findIndex((e) => e <= s);
      if (r < 0 && rowEnd.length < MAX_ROWS_PER_LANE) r = rowEnd.push(Number.NEGATIVE_INFINITY) - 1;
      // Lane full: the row that frees up first.
      if (r < 0) r = rowEnd.indexOf(Math.min(...rowEnd));
      rowEnd[r] = endOf(d, i, now);
      row[i] = firstRow + r;
      const list = byRow[firstRow + r];
      if (list) list.push(i);
      else byRow[firstRow + r] = [i];
    }
    lanes.push({ process: d.process.labels[p]!, firstRow, rows: rowEnd.length, tasks: tasks.length });
  }
  if (!Number.isFinite(t0)) t0 = t1 = 0;
  return { t0, t1, lanes, rows: byRow.length, row, byRow: byRow.map((r) => Int32Array.from(r)), drawn: d.n - untimed, untimed };
}

/** The task in `row` whose bar covers time `t`, else the nearest within `slack` ms; -1 when none. */
export function hit(d: TimelineData, l: TimelineLayout, rowIndex: number, t: number, slack: number, now: number): number {
  const tasks = l.byRow[rowIndex];
  if (!tasks?.length) return -1;
  // Last task starting at or before t + slack (tasks are sorted by start).
  let lo = 0;
  let hi = tasks.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (d.start[tasks[mid]!]! <= t + slack) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let best = -1;
  let bestGap = slack;
  // A full lane shares rows, so bars may overlap: look back a little for one that covers t.
  for (let k = at; k >= 0 && k > at - 64; k--) {
    const i = tasks[k]!;
    const gap = Math.max(0, d.start[i]! - t, t - endOf(d, i, now));
    if (gap <= bestGap) {
      best = i;
      bestGap = gap;
      if (gap === 0) break;
    }
  }
  return best;
}

/** How the bars were made, for the legend: recorded start/complete, or derived from submit + duration/realtime. */
export function basisNote(d: TimelineData): string {
  const counts = new Map<string, number>();
  for (let i = 0; i < d.n; i++) {
    const b = d.basis.labels[d.basis.codes[i]!]!;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  const text: Record<string, string> = {
    'start-complete': 'start → complete',
    'submit-duration': 'submit + duration (no start/complete recorded; start = end − realtime)',
    'submit-realtime': 'submit + realtime (no start/complete or duration recorded)',
    open: 'still running (start or submit → now)',
    none: 'no time recorded (not drawn)',
  };
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([b, n]) => `${n === d.n ? 'all' : n.toLocaleString('en-US')} from ${text[b] ?? b}`)
    .join(' · ');
}
