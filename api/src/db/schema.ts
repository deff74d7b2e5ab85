// Kysely table types (see migrations.ts). Task metric columns are dynamic (TASK_FIELDS) and typed loosely.
import type { ColumnType, Generated, JSONColumnType } from 'kysely';
import type { NewUpload } from '../domain/ports.js';

type Json = JSONColumnType<Record<string, unknown>, string, string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface RunsTable {
  id: string;
  name: string;
  status: string;
  source: string;
  session_id: string | null;
  run_name: string | null;
  submitter: string | null;
  owner: string | null;
  project_id: ColumnType<string, string | undefined, string>;
  params: ColumnType<Record<string, unknown>, string | undefined, string>;
  profiles: ColumnType<string[], string[] | undefined, string[]>;
  samplesheet: string | null;
  command_line: string | null;
  nextflow_version: string | null;
  launcher: string | null;
  launch_dir: string | null;
  outdir: string | null;
  work_dir: string | null;
  native_id: string | null;
  token_hash: string | null;
  resumed_from: string | null;
  error_message: string | null;
  exit_status: number | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  started_at: Timestamp | null;
  completed_at: Timestamp | null;
  last_event_at: Timestamp | null;
  max_seq: number | null;
  events_received: Generated<number>;
  results_ingested_at: Timestamp | null;
  manifest: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  integration: ColumnType<Record<string, unknown> | null, string | null, string | null>;
}

export interface RunLabelsTable {
  run_id: string;
  key: string;
  value: string;
}

export interface TasksTable {
  run_id: string;
  task_id: number;
  attempt: number;
  status: string;
  state_key: number;
  extra: Json;
  [column: string]: unknown;
}

export interface EventsTable {
  id: Generated<number>;
  run_id: string;
  dedupe_key: string;
  event: string;
  seq: number | null;
  task_id: number | null;
  attempt: number | null;
  received_at: Generated<Date>;
  body: Json;
}

export interface SamplesTable {
  run_id: string;
  sample: string;
  batch: string | null;
  chemistry: string | null;
  registration: Json;
  metrics: Json;
  qc_thresholds: Json;
  cells_before_qc: number | null;
  cells_after_qc: number | null;
}

export interface OutputsTable {
  run_id: string;
  path: string;
  kind: string;
  sample: string | null;
  size: number;
  sha256: string;
}

export interface CellsTable {
  run_id: string;
  idx: number;
  barcode: string;
  sample: string;
  batch: string | null;
  n_genes: number | null;
  total_counts: number | null;
  pct_counts_mt: number | null;
  doublet_score: number | null;
  leiden: string | null;
  umap_x: number | null;
  umap_y: number | null;
  extra: Json;
}

export interface BarcodeRanksTable {
  run_id: string;
  sample: string;
  rank: number;
  umi_count: number;
  is_cell: boolean;
}

export interface TokensTable {
  id: string;
  name: string;
  token_hash: string;
  admin: boolean;
  project_id: string;
  scopes: string[];
  created_at: Generated<Date>;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}

export interface IdempotencyKeysTable {
  project_id: string;
  key: string;
  request_hash: string;
  run_id: string | null;
  response: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  created_at: Generated<Date>;
}

export interface UploadsTable extends NewUpload {
  created_at: Generated<Date>;
}

export interface WebhooksTable {
  id: string;
  project_id: string;
  url: string;
  events: string[];
  secret: string;
  description: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  seq: Generated<string>;
  webhook_id: string;
  run_id: string;
  event_type: string;
  payload: Json;
  state: Generated<'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Generated<Date>;
}

export interface WebhookAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  at: Generated<Date>;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface Database {
  runs: RunsTable;
  run_labels: RunLabelsTable;
  tasks: TasksTable;
  events: EventsTable;
  samples: SamplesTable;
  outputs: OutputsTable;
  cells: CellsTable;
  barcode_ranks: BarcodeRanksTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  idempotency_keys: IdempotencyKeysTable;
  uploads: UploadsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
