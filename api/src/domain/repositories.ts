// Persistence ports, one repository per aggregate (runs, tasks, events, results, tokens, uploads). Repositories
// store and find; the rules (which run an event belongs to, status ranking, progress) are domain code around them.
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
  TaskOrder,
  TaskQuery,
  TaskRow,
} from './ports.js';
import type { TaskObservation } from './task-fields.js';
import type { TaskRows } from './trace-parser.js';
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
  patch(id: string, patch: RunPatch): Promise<void>;
  /** Moves the run up RUN_STATUS_RANK (never back, never out of a terminal state); returns whether it changed. */
  advance(id: string, status: RunStatus, patch?: RunPatch): Promise<boolean>;
  /** Runs this launcher started that were active when the API last stopped. */
  active(launcher: string): Promise<Run[]>;
  /** Replaces the per-run token (a launch that never started gets a new one on recovery). */
  setTokenHash(id: string, hash: string): Promise<void>;
  /** The run a per-run token (by its hash) belongs to. */
  idByTokenHash(hash: string): Promise<string | null>;
  /** The ids among `ids` whose run `owner` submitted. */
  ownedIds(ids: string[], owner: string): Promise<string[]>;
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
  list(runId: string, q: TaskQuery): Promise<{ items: TaskRow[]; total: number }>;
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

export interface TokenRepository {
  create(t: { id: string; name: string; hash: string; admin: boolean }): Promise<void>;
  find(hash: string): Promise<{ id: string; admin: boolean } | null>;
}

export interface UploadRepository {
  register(u: NewUpload): Promise<{ id: string; created: boolean }>;
}

export interface Repositories {
  runs: RunRepository;
  tasks: TaskRepository;
  events: EventRepository;
  results: ResultRepository;
  tokens: TokenRepository;
  uploads: UploadRepository;
  /** The unit of work: fn's writes, through the repositories it is handed, commit together or not at all. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Resolves when the database answers (readiness). */
  ping(): Promise<void>;
}
