// Typed client for the platform API (/api/v1). Every screen talks to the server through this module only.
import { type Table, tableFromIPC } from 'apache-arrow';

export const BASE = '/api/v1';

export type RunStatus = 'SUBMITTED' | 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'ABORTED' | 'UNKNOWN' | string;

export interface Progress {
  submitted: number;
  running: number;
  completed: number;
  failed: number;
  cached: number;
  aborted: number;
  total: number;
}

export interface Run {
  id: string;
  name: string;
  status: RunStatus;
  submitter?: string | null;
  labels?: Record<string, string>;
  profiles?: string[];
  source?: string;
  createdAt?: string | null;
  submittedAt?: string | null;
  startedAt?: string | null;
  completedAt?: string | null;
  durationMs?: number | null;
  progress?: Progress;
  params?: Record<string, unknown>;
  commandLine?: string | null;
  nextflowVersion?: string | null;
  sessionId?: string | null;
  workDir?: string | null;
  launchDir?: string | null;
  errorMessage?: string | null;
  timings?: Record<string, string | number | null>;
}

export interface RunList {
  items: Run[];
  nextCursor: string | null;
  total: number;
}

export interface RunFilter {
  status?: string;
  label?: string;
  submitter?: string;
  from?: string;
  to?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

export interface LaunchRequest {
  params: Record<string, unknown>;
  samplesheet?: string;
  profiles?: string[];
  name?: string;
  labels?: Record<string, string>;
  submitter?: string;
}

export interface ValidationError {
  field?: string;
  row?: number;
  column?: string;
  message: string;
}

export interface ValidateResult {
  valid: boolean;
  errors: ValidationError[];
  command: string;
}

export interface ProcessCounts {
  process: string;
  submitted?: number;
  running?: number;
  completed?: number;
  failed?: number;
  cached?: number;
  aborted?: number;
  total?: number;
}

/** One task row; the API keeps the trace field names (camelCase) so only the common ones are typed. */
export interface Task {
  taskId: number;
  process?: string;
  name?: string;
  tag?: string | null;
  status?: string;
  hash?: string;
  exit?: number | null;
  submit?: string | null;
  start?: string | null;
  complete?: string | null;
  duration?: number | null;
  realtime?: number | null;
  cpus?: number | null;
  pctCpu?: number | null;
  pctMem?: number | null;
  peakRss?: number | null;
  memory?: number | null;
  [k: string]: unknown;
}

export interface TaskPage {
  items: Task[];
  total: number;
}

export interface QcThresholds {
  min_genes?: number;
  max_genes?: number;
  min_counts?: number;
  max_counts?: number;
  max_pct_mt?: number;
}

export interface SampleQc {
  sample: string;
  batch?: string;
  chemistry?: string;
  registration?: { lanes?: number; read_pairs?: number; r1_length?: number; r2_length?: number };
  metrics: Record<string, number>;
  qc_thresholds?: QcThresholds;
  cells_before_qc?: number;
  cells_after_qc?: number;
}

export interface Integration {
  n_cells?: number;
  n_genes?: number;
  n_clusters?: number;
  batch_key?: string;
  label_key?: string | null;
  metrics: Record<string, { before: number; after: number } | null>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

async function request(path: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError(0, `API unreachable: ${(e as Error).message}`);
  }
  if (!res.ok) {
    let body: unknown;
    let message = `${res.status} ${res.statusText}`;
    try {
      body = await res.json();
      const m = (body as { message?: string; error?: string }).message ?? (body as { error?: string }).error;
      if (m) message = m;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message, body);
  }
  return res;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await request(path, init)).json() as Promise<T>;
}

function post<T>(path: string, body: unknown): Promise<T> {
  return json<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Arrow IPC stream or file bytes -> Table (tableFromIPC accepts both formats). */
async function arrow(path: string): Promise<{ table: Table; bytes: number }> {
  const res = await request(path, { headers: { accept: 'application/vnd.apache.arrow.stream' } });
  const buf = new Uint8Array(await res.arrayBuffer());
  return { table: tableFromIPC(buf), bytes: buf.byteLength };
}

export const api = {
  listRuns: (f: RunFilter = {}) => json<RunList>(`/runs${query({ ...f })}`),
  getRun: (id: string) => json<Run>(`/runs/${encodeURIComponent(id)}`),
  createRun: (body: LaunchRequest) => post<Run>('/runs', body),
  validateRun: (body: LaunchRequest) => post<ValidateResult>('/runs/validate', body),
  cancelRun: (id: string) => post<Run>(`/runs/${encodeURIComponent(id)}/cancel`, {}),
  relaunchRun: (id: string) => post<Run>(`/runs/${encodeURIComponent(id)}/relaunch`, {}),
  processes: async (id: string): Promise<ProcessCounts[]> => {
    const r = await json<ProcessCounts[] | { items: ProcessCounts[] }>(`/runs/${encodeURIComponent(id)}/processes`);
    return Array.isArray(r) ? r : r.items;
  },
  tasks: (id: string, p: { limit: number; offset: number; sort?: string; order?: 'asc' | 'desc'; filters?: Record<string, string> }) =>
    json<TaskPage>(
      `/runs/${encodeURIComponent(id)}/tasks${query({ limit: p.limit, offset: p.offset, sort: p.sort, order: p.order, ...p.filters })}`,
    ),
  tasksCsvUrl: (id: string) => `${BASE}/runs/${encodeURIComponent(id)}/tasks?format=csv`,
  samples: async (id: string): Promise<SampleQc[]> => {
    const r = await json<SampleQc[] | { items: SampleQc[] }>(`/runs/${encodeURIComponent(id)}/samples`);
    return Array.isArray(r) ? r : r.items;
  },
  integration: (id: string) => json<Integration>(`/runs/${encodeURIComponent(id)}/integration`),
  cells: (id: string, columns: string[]) => arrow(`/runs/${encodeURIComponent(id)}/cells${query({ columns: columns.join(',') })}`),
  barcodeRanks: (id: string) => arrow(`/runs/${encodeURIComponent(id)}/barcode-ranks`),
  paramsSchema: () => json<JsonSchema>('/schema/params'),
  samplesheetSchema: () => json<JsonSchema>('/schema/samplesheet'),
  runLogUrl: (id: string) => `${BASE}/runs/${encodeURIComponent(id)}/log?follow=1`,
  taskLogUrl: (id: string, taskId: string | number, stream: 'out' | 'err') =>
    `${BASE}/runs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(String(taskId))}/log?stream=${stream}&follow=1`,
  runsStreamUrl: () => `${BASE}/stream/runs`,
};

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  help_text?: string;
  default?: unknown;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  hidden?: boolean;
  fa_icon?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  allOf?: { $ref?: string }[];
  [k: string]: unknown;
};

/**
 * Subscribes to live change notifications. Uses SSE; when the stream fails it falls back to calling
 * `onChange` on a timer that backs off (2 s doubling to 30 s) and retries SSE after each poll.
 */
export function live(url: string, onChange: (data: unknown) => void): () => void {
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let delay = 2000;
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    es = new EventSource(url);
    es.onopen = () => {
      delay = 2000;
    };
    const handler = (ev: MessageEvent) => {
      let data: unknown = ev.data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        // plain text event
      }
      onChange(data);
    };
    // Unnamed events arrive as 'message'; named ones as their name.
    for (const name of ['message', 'run', 'change', 'log', 'line']) es.addEventListener(name, handler as EventListener);
    es.onerror = () => {
      es?.close();
      es = null;
      if (stopped) return;
      timer = setTimeout(() => {
        onChange(null);
        delay = Math.min(delay * 2, 30000);
        connect();
      }, delay);
    };
  };
  connect();
  return () => {
    stopped = true;
    es?.close();
    if (timer) clearTimeout(timer);
  };
}
