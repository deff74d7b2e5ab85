// Persistence ports, one repository per aggregate (runs, tasks, events, results, tokens, projects, idempotency keys,
// uploads). Repositories
// store and find; the rules (which run an event belongs to, status ranking, progress) are domain code around them.
import type { Scope } from './auth.js';
import type { NewNextflowRun, NextflowKey, NextflowRun } from './event-runs.js';
import type {
  CellColumns,
  NewRun,
  NewUpload,
  OutputRow,
  ResultsBundle,
  Run,
  RunPatch,
  RunQuery,
  RunStatus,
  SampleRow,
  TaskCursor,
  TaskOrder,
  TaskQuery,
  TaskRow,
} from './ports.js';
import type { TaskObservation } from './task-fields.js';
import type { TimelineRows } from './timeline.js';
import type { TaskRows } from './trace-parser.js';
import type { Delivery, DeliveryAttempt, DueDelivery, Outcome, Webhook } from './webhooks.js';
import type { RunFacts } from './weblog.js';

/** What one event batch adds to a run: counters, the highest status it reports, and the facts it tells. */
export interface RunEventFacts {
  events: number;
  lastEventAt: Date;
  maxSeq: number | null;
  status: RunStatus | null;
  facts: Omit<RunFacts, 'status'>;
}

export interface RunRepository {
  create(r: NewRun): Promise<Run>;
  get(id: string): Promise<Run | null>;
  delete(id: string): Promise<void>;
  list(q: RunQuery): Promise<{ items: Run[]; total: number }>;
  /** How many runs the query's filters match, per status (statuses with none are left out). */
  countByStatus(q: Omit<RunQuery, 'limit' | 'cursor'>): Promise<Partial<Record<RunStatus, number>>>;
  patch(id: string, patch: RunPatch): Promise<void>;
  /** Moves the run up RUN_STATUS_RANK (never back, never out of a terminal state); returns whether it changed. */
  advance(id: string, status: RunStatus, patch?: RunPatch): Promise<boolean>;
  /** Runs this launcher started that were active when the API last stopped. */
  active(launcher: string): Promise<Run[]>;
  /** Replaces the per-run token (a launch that never started gets a new one on recovery). */
  setTokenHash(id: string, hash: string): Promise<void>;
  /** The run a per-run token (by its hash) belongs to, and its project. */
  byTokenHash(hash: string): Promise<{ id: string; project: string } | null>;
  /** The ids among `ids` whose run is in `project`. */
  idsInProject(ids: string[], project: string): Promise<string[]>;
  /** The ids among `ids` that are runs. */
  existingIds(ids: string[]): Promise<Set<string>>;
  /** Runs Nextflow knows by these (session id, run name) keys. */
  findNextflow(keys: NextflowKey[]): Promise<NextflowRun[]>;
  /** Creates these runs; a key another writer created meanwhile is left as it is. */
  createNextflow(runs: NewNextflowRun[]): Promise<void>;
  /** Records a platform run's Nextflow identity, unless it has one or another run holds that key. */
  bindNextflow(id: string, key: NextflowKey): Promise<void>;
  /** Locks the runs' rows until the transaction ends (event batches and trace imports take them in id order). */
  lock(ids: string[]): Promise<void>;
  addEventFacts(id: string, f: RunEventFacts): Promise<void>;
}

/** A task observation and the run it belongs to. */
export type RunTaskObservation = TaskObservation & { runId: string };

export interface TaskRepository {
  /** All or nothing: a parse error inside the stream rolls the whole import back. Rows (scanTrace) are the fast form. */
  import(runId: string, batches: AsyncIterable<TaskObservation[] | TaskRows>): Promise<{ rows: number }>;
  /** Merges observations into task rows (the higher state key wins per column); at most one per (run, task, attempt). */
  merge(observations: RunTaskObservation[]): Promise<void>;
  /** One page in the query's order (by offset, or after its cursor). */
  list(runId: string, q: TaskQuery): Promise<{ items: TaskRow[]; next: TaskCursor | null }>;
  /** How many tasks match the filters. */
  count(runId: string, filters: TaskQuery['filters']): Promise<number>;
  /** Every matching task in list's order, pageSize rows per query (keyset: no connection is held between pages). */
  pages(runId: string, q: TaskOrder, pageSize: number): AsyncIterable<TaskRow[]>;
  /** The task's latest attempt. */
  get(runId: string, taskId: number): Promise<TaskRow | null>;
  /** Task rows per status. */
  statusCounts(runId: string): Promise<{ status: string; n: number }[]>;
  /** Task rows per process (its name without the tag when unknown) and status, by process. */
  processStatusCounts(runId: string): Promise<{ process: string; status: string; n: number }[]>;
  /** What a run's tasks say about the run: their time span and how their last attempts ended. */
  outcome(runId: string): Promise<TaskOutcome>;
}

export interface TaskOutcome {
  /** Earliest start (or submit) and latest end (complete, else submit + realtime or duration) of any task. */
  firstStart: string | null;
  lastEnd: string | null;
  /** Tasks, each counted once over its attempts (a retry has the same name and a new task id). */
  tasks: number;
  /** Of those, the ones whose last attempt failed: ending the run (error_action TERMINATE or FINISH), or with no error_action recorded. */
  fatal: number;
  undetermined: number;
}

/** A weblog event as stored: deduplicated per run by its key. */
export interface EventRecord {
  runId: string;
  dedupeKey: string;
  event: string;
  seq: number | null;
  taskId: number | null;
  attempt: number | null;
  receivedAt: Date;
  body: unknown;
}

export interface EventRepository {
  /** Stores the records not stored yet; returns the ones it stored. */
  insert(records: EventRecord[]): Promise<Pick<EventRecord, 'runId' | 'dedupeKey'>[]>;
}

export interface ResultRepository {
  /** Replaces the run's results (samples, outputs, integration, cells, barcode ranks) in one transaction. */
  save(runId: string, bundle: ResultsBundle): Promise<void>;
  samples(runId: string): Promise<SampleRow[]>;
  /** The outputs the run's manifest lists, by path. */
  outputs(runId: string): Promise<OutputRow[]>;
  integration(runId: string): Promise<Record<string, unknown> | null>;
  /** The manifest the results were ingested from (null before an ingest). */
  manifest(runId: string): Promise<Record<string, unknown> | null>;
  /** Per-cell columns (null when the run has no cells). */
  cells(runId: string, columns: string[] | null): Promise<CellColumns | null>;
  cellColumnNames(runId: string): Promise<string[]>;
  barcodeRanks(runId: string): Promise<{ sample: string[]; rank: number[]; umi_count: number[]; is_cell: boolean[] }>;
}

export interface WebhookRepository {
  create(w: Omit<Webhook, 'createdAt'> & { secret: string; createdBy: string | null }): Promise<Webhook>;
  list(project: string): Promise<Webhook[]>;
  get(project: string, id: string): Promise<Webhook | null>;
  /** Whether it existed; its deliveries go with it. */
  delete(project: string, id: string): Promise<boolean>;
  /** The newest deliveries first. */
  deliveries(webhookId: string, limit: number): Promise<Delivery[]>;
  delivery(webhookId: string, deliveryId: string): Promise<Delivery | null>;
  attempts(deliveryId: string): Promise<DeliveryAttempt[]>;
  /** Makes a delivery pending and due now; null when the subscription has no such delivery. */
  redeliver(webhookId: string, deliveryId: string): Promise<Delivery | null>;
  /**
   * Claims up to `limit` due deliveries, each the oldest pending one of its (subscription, run), locked so no
   * other API process sends them; `send` attempts them and its outcomes are recorded before the claim ends.
   * Returns how many were claimed.
   */
  dispatch(limit: number, send: (due: DueDelivery[]) => Promise<Outcome[]>): Promise<number>;
}

export interface NewToken {
  id: string;
  name: string;
  hash: string;
  project: string;
  scopes: readonly Scope[];
}

/** The times every task's bar is drawn from (domain/timeline.ts), column-wise: a 100k-task run in one read. */
export interface TimelineRepository {
  rows(runId: string): Promise<TimelineRows>;
}
/** An API token as listed: never its secret nor its hash. */
export type TokenRecord = {
  id: string;
  name: string;
  project: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
};

export interface TokenRepository {
  create(t: NewToken): Promise<void>;
  /** A token that is not revoked, by its hash. */
  find(hash: string): Promise<{ id: string; project: string; scopes: Scope[] } | null>;
  /** Every token (of one project when given), newest first. */
  list(project?: string): Promise<TokenRecord[]>;
  /** Marks the token revoked; false when there is no such token. Revoking twice keeps the first time. */
  revoke(id: string): Promise<boolean>;
}

export type ProjectRecord = {
  id: string;
  name: string;
  createdAt: string;
};

export interface ProjectRepository {
  /** False when a project with that id exists already. */
  create(p: { id: string; name: string }): Promise<boolean>;
  list(): Promise<ProjectRecord[]>;
  exists(id: string): Promise<boolean>;
}

/** The response a keyed request got, replayed to its duplicates. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotencyRecord {
  requestHash: string;
  /** Null while the first request is still being answered. */
  response: StoredResponse | null;
}

export interface IdempotencyRepository {
  /**
   * Claims (project, key) for a request, atomically on the primary key: true when this caller now holds it (a new
   * key, one created before `expiredBefore`, or one left unanswered since before `abandonedBefore`).
   */
  claim(project: string, key: string, requestHash: string, expiredBefore: Date, abandonedBefore: Date): Promise<boolean>;
  find(project: string, key: string): Promise<IdempotencyRecord | null>;
  complete(project: string, key: string, runId: string | null, response: StoredResponse): Promise<void>;
  /** Gives a claim up (the request failed), so a retry runs it again. */
  release(project: string, key: string): Promise<void>;
  /** Deletes keys created before `before`; returns how many. */
  purge(before: Date): Promise<number>;
}

export interface UploadRepository {
  register(u: NewUpload): Promise<{ id: string; created: boolean }>;
}

export interface Repositories {
  runs: RunRepository;
  tasks: TaskRepository;
  events: EventRepository;
  results: ResultRepository;
  timeline: TimelineRepository;
  tokens: TokenRepository;
  projects: ProjectRepository;
  idempotency: IdempotencyRepository;
  uploads: UploadRepository;
  webhooks: WebhookRepository;
  /** The unit of work: fn's writes, through the repositories it is handed, commit together or not at all. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Resolves when the database answers (readiness). */
  ping(): Promise<void>;
}
