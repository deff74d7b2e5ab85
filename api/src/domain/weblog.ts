// Nextflow weblog events (nf-weblog's JSON, plus the nf-scrna plugin's extras) mapped to task observations and run facts.
import { FIELD_BY_TRACE, TASK_STATUS_RANK, type TaskObservation, type TaskValue } from './task-fields.js';
import { EXIT_UNKNOWN, INT32_MAX } from './values.js';

export interface WeblogEvent {
  runName: string;
  runId: string;
  event: string;
  utcTime?: string;
  trace?: Record<string, unknown> | null;
  metadata?: { parameters?: Record<string, unknown>; workflow?: Record<string, unknown> } | null;
  seq?: number;
  timestamp?: string;
  platformRunId?: string;
  [k: string]: unknown;
}

export const TASK_EVENTS = new Set(['process_submitted', 'process_started', 'process_completed', 'process_cached']);
const STATUS_OF_EVENT: Record<string, string> = {
  process_submitted: 'SUBMITTED',
  process_started: 'RUNNING',
  process_completed: 'COMPLETED',
  process_cached: 'CACHED',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** seq, task_id and attempt are stored as Postgres integers. */
const isInt32 = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= INT32_MAX;

export interface FieldError {
  field: string;
  message: string;
}

/** Checks the fields the platform relies on; anything else in the event is kept as sent. */
export function checkEvent(e: unknown, at: string): FieldError | null {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return { field: at || 'body', message: 'an event must be a JSON object' };
  const ev = e as Record<string, unknown>;
  const p = (k: string) => (at ? `${at}.${k}` : k);
  if (typeof ev.event !== 'string' || ev.event === '') return { field: p('event'), message: 'event name (string) is required' };
  if (typeof ev.runId !== 'string' || ev.runId === '') return { field: p('runId'), message: 'runId (the Nextflow session id) is required' };
  if (typeof ev.runName !== 'string' || ev.runName === '') return { field: p('runName'), message: 'runName is required' };
  if (ev.seq !== undefined && !isInt32(ev.seq, 0)) return { field: p('seq'), message: `seq must be an integer from 0 to ${INT32_MAX}` };
  if (ev.platformRunId !== undefined && (typeof ev.platformRunId !== 'string' || !UUID.test(ev.platformRunId)))
    return { field: p('platformRunId'), message: 'platformRunId must be a run id (UUID)' };
  for (const k of ['utcTime', 'timestamp'] as const)
    if (ev[k] !== undefined && ev[k] !== null && typeof ev[k] !== 'string') return { field: p(k), message: `${k} must be a string` };
  for (const k of ['trace', 'metadata'] as const)
    if (ev[k] !== undefined && ev[k] !== null && (typeof ev[k] !== 'object' || Array.isArray(ev[k])))
      return { field: p(k), message: `${k} must be an object` };
  if (TASK_EVENTS.has(ev.event)) {
    const tr = ev.trace as Record<string, unknown> | undefined;
    if (!tr) return { field: p('trace'), message: `${ev.event} needs a trace` };
    if (!isInt32(tr.task_id, 0)) return { field: p('trace.task_id'), message: `task_id must be an integer from 0 to ${INT32_MAX}` };
    if (tr.attempt !== undefined && tr.attempt !== null && !isInt32(tr.attempt, -INT32_MAX))
      return { field: p('trace.attempt'), message: `attempt must be an integer within ±${INT32_MAX}` };
    if (tr.status !== undefined && tr.status !== null && !(typeof tr.status === 'string' && tr.status in TASK_STATUS_RANK))
      return { field: p('trace.status'), message: 'unknown task status' };
  }
  return null;
}

/** Re-delivery of the same state change of the same task (or of the run) is the same event. */
export function dedupeKey(e: WeblogEvent): string {
  const t = e.trace;
  if (t && Number.isInteger(t.task_id)) return `${e.event}:${t.task_id}:${t.attempt ?? ''}`;
  return e.event;
}

function toValue(kind: string, v: unknown): TaskValue {
  if (v === null || v === undefined) return null;
  if (kind === 'str') {
    if (Array.isArray(v)) return v.length ? `[${v.join(', ')}]` : null;
    const s = String(v);
    return s === '' || s === '-' ? null : s;
  }
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return null;
  // Out-of-range numbers cannot be a real date, exit code or size: treated as missing rather than refused.
  if (kind === 'date') return n === 0 || Math.abs(n) > 8.64e15 ? null : n;
  if (kind === 'int') return n === EXIT_UNKNOWN || Math.abs(n) > 2147483647 ? null : Math.round(n);
  if (Math.abs(n) >= 9e18) return null;
  if (kind === 'perc') return n;
  return Math.round(n);
}

const HANDLED = new Set(['task_id', 'attempt', 'status']);

export function observationFromEvent(e: WeblogEvent): TaskObservation | null {
  const t = e.trace;
  if (!t || !TASK_EVENTS.has(e.event) || !Number.isInteger(t.task_id)) return null;
  // The record's own status is the truth (a completed event carries FAILED or ABORTED too).
  const status = typeof t.status === 'string' && t.status in TASK_STATUS_RANK ? t.status : (STATUS_OF_EVENT[e.event] ?? 'NEW');
  const values: Record<string, TaskValue> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    if (HANDLED.has(k)) continue;
    const field = FIELD_BY_TRACE.get(k);
    if (field) values[field.column] = toValue(field.kind, v);
    else if (v !== null && v !== undefined) extra[k] = typeof v === 'object' ? v : String(v);
  }
  const attempt = Number.isInteger(t.attempt) ? (t.attempt as number) : null;
  return { taskId: t.task_id as number, attempt, status, source: 'event', values, extra };
}

/** `workflow.start` arrives as an exploded OffsetDateTime (nf-weblog) or an ISO string (nf-scrna). */
export function eventDate(v: unknown): string | null {
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : new Date(t).toISOString();
  }
  if (typeof v === 'number') return v > 0 ? new Date(v).toISOString() : null;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const y = Number(o.year);
    const mo = Number(o.monthValue ?? o.month);
    const d = Number(o.dayOfMonth);
    if (!Number.isInteger(y) || !Number.isInteger(mo) || !Number.isInteger(d)) return null;
    const offset = Number((o.offset as Record<string, unknown> | undefined)?.totalSeconds ?? 0);
    const t = Date.UTC(
      y,
      mo - 1,
      d,
      Number(o.hour ?? 0),
      Number(o.minute ?? 0),
      Number(o.second ?? 0),
      Math.floor(Number(o.nano ?? 0) / 1e6),
    );
    return Number.isNaN(t) ? null : new Date(t - offset * 1000).toISOString();
  }
  return null;
}

/** What a run-level event tells about the run. */
export interface RunFacts {
  status?: 'RUNNING' | 'COMPLETED' | 'FAILED';
  startedAt?: string | null;
  completedAt?: string | null;
  commandLine?: string;
  nextflowVersion?: string;
  launchDir?: string;
  workDir?: string;
  outdir?: string;
  profile?: string;
  params?: Record<string, unknown>;
  errorMessage?: string;
  exitStatus?: number;
}

export function runFactsFromEvent(e: WeblogEvent): RunFacts {
  const wf = (e.metadata?.workflow ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const facts: RunFacts = {};
  if (e.event === 'started') {
    facts.status = 'RUNNING';
    facts.startedAt = eventDate(wf.start) ?? eventDate(e.timestamp) ?? eventDate(e.utcTime);
  } else if (e.event === 'completed') {
    facts.status = wf.success === false ? 'FAILED' : 'COMPLETED';
    facts.completedAt = eventDate(wf.complete) ?? eventDate(e.timestamp) ?? eventDate(e.utcTime);
    if (Number.isInteger(wf.exitStatus)) facts.exitStatus = wf.exitStatus as number;
    const msg = str(wf.errorMessage);
    if (msg) facts.errorMessage = msg;
  } else if (e.event === 'error') {
    const msg = str(e.trace?.error_action) ?? str(wf.errorMessage);
    facts.errorMessage = msg ?? 'the workflow reported an error';
  } else if (TASK_EVENTS.has(e.event)) {
    facts.status = 'RUNNING';
  }
  const cl = str(wf.commandLine);
  if (cl) facts.commandLine = cl;
  const nf = wf.nextflow as Record<string, unknown> | undefined;
  if (nf && str(nf.version)) facts.nextflowVersion = str(nf.version)!;
  if (str(wf.launchDir)) facts.launchDir = str(wf.launchDir)!;
  if (str(wf.workDir)) facts.workDir = str(wf.workDir)!;
  if (str(wf.outputDir)) facts.outdir = str(wf.outputDir)!;
  if (str(wf.profile)) facts.profile = str(wf.profile)!;
  if (e.metadata?.parameters && typeof e.metadata.parameters === 'object') facts.params = e.metadata.parameters;
  return facts;
}
