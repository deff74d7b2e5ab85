// Typed client for the platform API (/api/v1). Every screen talks to the server through this module only.
import { type Table, tableFromIPC } from 'apache-arrow';

export const BASE = '/api/v1';

export type RunStatus = 'QUEUED' | 'SUBMITTED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export const RUN_STATUSES: RunStatus[] = ['QUEUED', 'SUBMITTED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

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
  createdAt: string;
  updatedAt?: string;
  startedAt?: string | null;
  completedAt?: string | null;
  progress?: Progress;
  params?: Record<string, unknown>;
  commandLine?: string | null;
  nextflowVersion?: string | null;
  sessionId?: string | null;
  runName?: string | null;
  workDir?: string | null;
  launchDir?: string | null;
  outdir?: string | null;
  launcher?: string | null;
  resumedFrom?: string | null;
  errorMessage?: string | null;
  exitStatus?: number | null;
  resultsIngestedAt?: string | null;
  timings?: { queuedMs?: number | null; wallMs?: number | null };
  delivery?: { eventsReceived: number; lastEventAt: string | null; maxSeq: number | null; missingSeq: number };
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
  counts: Progress;
}

/** One task row with Nextflow's trace field names (`%cpu` -> pct_cpu); only the ones shown are typed. */
export interface Task {
  task_id: number;
  attempt: number;
  status: string;
  process?: string | null;
  name?: string | null;
  tag?: string | null;
  hash?: string | null;
  exit?: number | null;
  submit?: string | null;
  start?: string | null;
  complete?: string | null;
  duration?: number | null;
  realtime?: number | null;
  cpus?: number | null;
  pct_cpu?: number | null;
  pct_mem?: number | null;
  peak_rss?: number | null;
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
  batch?: string | null;
  chemistry?: string | null;
  registration?: { lanes?: number; read_pairs?: number; r1_length?: number; r2_length?: number };
  metrics: Record<string, number>;
  qcThresholds?: QcThresholds;
  cellsBeforeQc?: number | null;
  cellsAfterQc?: number | null;
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
  processes: async (id: string) => (await json<{ items: ProcessCounts[] }>(`/runs/${encodeURIComponent(id)}/processes`)).items,
  tasks: (id: string, p: { limit: number; offset: number; sort?: string; order?: 'asc' | 'desc'; filters?: Record<string, string> }) =>
    json<TaskPage>(
      `/runs/${encodeURIComponent(id)}/tasks${query({ limit: p.limit, offset: p.offset, sort: p.sort, order: p.order, ...p.filters })}`,
    ),
  tasksCsvUrl: (id: string) => `${BASE}/runs/${encodeURIComponent(id)}/tasks?format=csv`,
  samples: async (id: string) => (await json<{ items: SampleQc[] }>(`/runs/${encodeURIComponent(id)}/samples`)).items,
  integration: (id: string) => json<Integration>(`/runs/${encodeURIComponent(id)}/integration`),
  cells: (id: string, columns: string[]) => arrow(`/runs/${encodeURIComponent(id)}/cells${query({ columns: columns.join(',') })}`),
  barcodeRanks: (id: string) => arrow(`/runs/${encodeURIComponent(id)}/barcode-ranks`),
  paramsSchema: () => json<JsonSchema>('/schema/params'),
  samplesheetSchema: () => json<JsonSchema>('/schema/samplesheet'),
  runLogUrl: (id: string) => `${BASE}/runs/${encodeURIComponent(id)}/log?follow=true`,
  taskLogUrl: (id: string, taskId: string | number, stream: 'out' | 'err') =>
    `${BASE}/runs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(String(taskId))}/log?stream=${stream}&follow=true`,
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
    // The API names its events (`runs` {ids}); unnamed ones arrive as 'message'.
    for (const name of ['message', 'runs']) es.addEventListener(name, handler as EventListener);
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
