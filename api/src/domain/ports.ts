// Interfaces the domain services depend on and the records they exchange; adapters (local launcher, fs results, file
// logs, and later AWS Batch, S3 and CloudWatch) implement them and are chosen in one place (composition.ts). The
// persistence ports, one repository per aggregate, are in repositories.ts.
import type { WeblogEvent } from './weblog.js';

export type RunStatus = 'QUEUED' | 'SUBMITTED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export const RUN_STATUSES: RunStatus[] = ['QUEUED', 'SUBMITTED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
export const TERMINAL: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
/** Run states only move up this ranking; the terminal states share the top rank, so none replaces another. */
export const RUN_STATUS_RANK: Readonly<Record<RunStatus, number>> = {
  QUEUED: 0,
  SUBMITTED: 1,
  RUNNING: 2,
  COMPLETED: 3,
  FAILED: 3,
  CANCELLED: 3,
};

export interface Run {
  id: string;
  name: string;
  status: RunStatus;
  source: 'platform' | 'weblog' | 'trace';
  sessionId: string | null;
  runName: string | null;
  submitter: string | null;
  /** Id of the API token that submitted the run (null: an anonymous caller on an open install). */
  owner: string | null;
  /** The project the run belongs to: only its project's tokens (and admins) reach it. */
  project: string;
  params: Record<string, unknown>;
  profiles: string[];
  samplesheet: string | null;
  commandLine: string | null;
  nextflowVersion: string | null;
  launcher: string | null;
  launchDir: string | null;
  outdir: string | null;
  workDir: string | null;
  nativeId: string | null;
  resumedFrom: string | null;
  errorMessage: string | null;
  exitStatus: number | null;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  resultsIngestedAt: string | null;
  /** See domain/delivery.ts. */
  delivery: {
    eventsReceived: number;
    lastEventAt: string | null;
    maxSeq: number | null;
    missingSeq: number;
    endReceived: boolean;
    unacknowledged: number | null;
  };
}

export interface NewRun {
  id: string;
  name: string;
  status: RunStatus;
  source: Run['source'];
  submitter?: string | null;
  owner?: string | null;
  /** The run's project (default: the default project). */
  project?: string;
  params?: Record<string, unknown>;
  profiles?: string[];
  samplesheet?: string | null;
  launcher?: string | null;
  launchDir?: string | null;
  outdir?: string | null;
  tokenHash?: string | null;
  resumedFrom?: string | null;
  labels?: Record<string, string>;
  commandLine?: string | null;
}

export type RunPatch = Partial<
  Pick<Run, 'commandLine' | 'nativeId' | 'errorMessage' | 'exitStatus' | 'startedAt' | 'completedAt' | 'launchDir' | 'outdir' | 'workDir'>
>;

export interface RunQuery {
  status?: string[];
  label?: string[];
  submitter?: string;
  /** Only runs of this project (a non-admin token sees its project's runs). */
  project?: string;
  from?: string;
  to?: string;
  q?: string;
  limit: number;
  cursor?: { createdAt: string; id: string };
}

export interface Progress {
  submitted: number;
  running: number;
  completed: number;
  failed: number;
  cached: number;
  aborted: number;
  total: number;
}

export interface TaskQuery {
  limit: number;
  offset: number;
  sort: string;
  order: 'asc' | 'desc';
  /** column -> [operator, value] */
  filters: { column: string; op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'like'; value: string }[];
  /** Keyset paging: the rows after this one in the query's order (offset is then 0). */
  after?: TaskCursor;
}

/** A row's place in a task order: its sort column as text (null when NULL), then the tie break. */
export interface TaskCursor {
  key: string | null;
  taskId: number;
  attempt: number;
}

/** A task query without its page: what an export iterates over. */
export type TaskOrder = Pick<TaskQuery, 'sort' | 'order' | 'filters'>;

export type TaskRow = Record<string, unknown>;

export interface IncomingEvent {
  event: WeblogEvent;
  /** Run the sender's per-run token is bound to, if it used one. */
  tokenRunId: string | null;
  /** API token that sent it: the owner of a run its first event creates. */
  owner: string | null;
  /** The sender's project: a run its first event creates lands there. */
  project: string;
  /** Sent with an admin token: may report on any run. */
  admin: boolean;
  receivedAt: Date;
}

/**
 * A local write-ahead log of accepted event submissions: a submission is on disk before it is answered 202, written
 * to the database in the background, and forgotten once stored; what a stopped API left unstored is read back at start.
 */
export interface EventSpool {
  /** Appends one submission; resolves once it is durable (concurrent appends share one write and one sync). */
  append(events: IncomingEvent[]): Promise<SpoolTicket>;
  /** The submission is stored in the database: the spool may drop it. */
  release(ticket: SpoolTicket): void;
  /** Submissions appended before this start and never released, oldest first (read once, before any append). */
  recover(): Promise<{ ticket: SpoolTicket; events: IncomingEvent[] }[]>;
  close(): Promise<void>;
}

/** Where a spooled submission is kept (opaque to the ingester). */
export type SpoolTicket = number;

export interface SampleRow {
  sample: string;
  batch: string | null;
  chemistry: string | null;
  registration: Record<string, unknown>;
  metrics: Record<string, unknown>;
  qcThresholds: Record<string, unknown>;
  cellsBeforeQc: number | null;
  cellsAfterQc: number | null;
}

export interface OutputRow {
  path: string;
  kind: string;
  sample: string | null;
  size: number;
  sha256: string;
}

export interface CellColumns {
  /** Column name -> values, all of the same length. */
  [name: string]: ArrayLike<unknown>;
}

export interface ResultsBundle {
  manifest: Record<string, unknown>;
  integration: Record<string, unknown> | null;
  samples: SampleRow[];
  outputs: OutputRow[];
  cells: CellColumns | null;
  barcodeRanks: { sample: string; rank: number; umi_count: number; is_cell: boolean }[];
}

/** Where a launcher keeps a run: its launch directory (or prefix) and the pipeline's outdir. */
export interface Workspace {
  launchDir: string;
  outdir: string;
}

export interface LaunchSpec extends Workspace {
  runId: string;
  profiles: string[];
  /** The run's params and samplesheet text: the launcher stages them where its engine reads them. */
  params: Record<string, unknown>;
  /** Samplesheet CSV, or null when the profile brings its own data (test). */
  samplesheet: string | null;
  resume: boolean;
  env: Record<string, string>;
  /** Labels the launcher attaches to what it starts where its engine has them (Batch job tags). */
  tags?: Record<string, string>;
  /** Called once when the Nextflow process ends; `reason` says why it failed when the engine knows. */
  onExit: ExitHandler;
  /** Called when the engine reports the run started (a Batch head job RUNNING). */
  onRunning?: () => void;
}

export type ExitHandler = (code: number | null, signal: string | null, reason?: string) => void;

export type CommandSpec = Pick<LaunchSpec, 'launchDir' | 'outdir' | 'profiles' | 'resume'> & { samplesheet: boolean };

export interface Launcher {
  readonly name: string;
  /** Where a new run's launch directory and outdir go. */
  workspace(runId: string): Workspace;
  /** The command a launch runs (shown by POST /runs/validate). */
  command(spec: CommandSpec): string[];
  /** Stages the params and samplesheet in the workspace, then starts the run. */
  launch(spec: LaunchSpec): Promise<{ nativeId: string }>;
  cancel(nativeId: string): Promise<void>;
  isAlive(nativeId: string): Promise<boolean>;
  /** Re-attaches onExit to a run that was active when the API restarted (or reports it gone). */
  watch(nativeId: string, onExit: ExitHandler, onRunning?: () => void): void;
  /**
   * What this launcher already started for the run, found in its engine (a Batch job by name): recovers a run whose
   * launch was not recorded because the API stopped in between (a local Nextflow by its pid file).
   */
  find(run: { runId: string; launchDir: string }): Promise<{ nativeId: string } | null>;
}

/** The pipeline's schema files by their path in the workflows directory (e.g. `assets/schema_input.json`). */
export interface SchemaFiles {
  /** The parsed file, or null when the pipeline has no such file. */
  read(name: string): Promise<Record<string, unknown> | null>;
  /** Where the file is read from, for error messages. */
  describe(name: string): string;
}

/** Files of a run's outputs: local paths now, s3:// later. */
export interface ResultStore {
  join(base: string, relative: string): string;
  exists(uri: string): Promise<boolean>;
  size(uri: string): Promise<number | null>;
  read(uri: string): Promise<Buffer>;
  /** The file's bytes from `start` (default 0) to its end. */
  stream(uri: string, start?: number): AsyncIterable<Buffer>;
  /** `length` bytes from `start` (fewer at the end of the file): random access without reading the rest. */
  readRange(uri: string, start: number, length: number): Promise<Buffer>;
  /** The SHA-256 (hex) the store already holds for the file (S3 checksums), or null: then the bytes are hashed. */
  storedSha256?(uri: string): Promise<string | null>;
  /**
   * A short-lived URL a client may fetch the file from directly (a presigned S3 GetObject); stores without one
   * (local files) leave it out and the API streams the bytes itself.
   */
  url?(uri: string, expiresSeconds: number): Promise<string>;
}

export type LogRef = { kind: 'run'; run: Run } | { kind: 'task'; run: Run; task: TaskRow; stream: 'out' | 'err' };

export interface LogSource {
  /** Text from byte offset on; exists=false when the log is not (yet) there. */
  read(ref: LogRef, offset: number): Promise<{ text: string; offset: number; exists: boolean }>;
}

/**
 * Where a local path leads after every symlink: its real path; 'missing' when nothing is there; 'broken' when it
 * cannot be followed (a dangling or looping link, no permission).
 */
export type RealPath = { real: string } | 'missing' | 'broken';

/** Resolves local paths on the machine that runs the pipeline (the data-roots rule itself is in the domain). */
export interface PathResolver {
  realpath(p: string): Promise<RealPath>;
  /** Whether an s3:// URI names an object or a prefix with objects; null when it cannot tell (no access, a glob). */
  s3Exists?(uri: string): Promise<boolean | null>;
}

/** A raw FASTQ the S3 trigger (or a user) registers; sample, lane and read come from its bcl2fastq name when they can. */
export interface NewUpload {
  id: string;
  uri: string;
  sample: string | null;
  lane: number | null;
  read: string | null;
  size: number | null;
  sha256: string | null;
}
