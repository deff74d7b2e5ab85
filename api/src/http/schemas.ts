// JSON schemas of requests and responses; the OpenAPI document is generated from them.

import { RUN_STATUSES } from '../domain/ports.js';
import { TASK_FIELDS, TASK_STATUSES } from '../domain/task-fields.js';

const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const freeObject = { type: 'object', additionalProperties: true } as const;

/** Every route's error answers: the shared error body, for client errors and for 503 (database unreachable: retry). */
export const ErrorResponses = { '4xx': { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export const ErrorDetail = {
  type: 'object',
  required: ['message'],
  properties: {
    field: { type: 'string' },
    row: { type: 'integer' },
    column: { type: ['string', 'integer'] },
    line: { type: 'integer' },
    message: { type: 'string' },
  },
};

export const ErrorBody = {
  $id: 'Error',
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
    row: { type: 'integer' },
    column: { type: ['string', 'integer'] },
    line: { type: 'integer' },
    errors: { type: 'array', items: ErrorDetail },
  },
};

export const Progress = {
  type: 'object',
  required: ['submitted', 'running', 'completed', 'failed', 'cached', 'aborted', 'total'],
  properties: Object.fromEntries(
    ['submitted', 'running', 'completed', 'failed', 'cached', 'aborted', 'total'].map((k) => [k, { type: 'integer' }]),
  ),
};

const runProperties = {
  id: { type: 'string', format: 'uuid' },
  name: { type: 'string' },
  status: { type: 'string', enum: RUN_STATUSES },
  source: { type: 'string', enum: ['platform', 'weblog', 'trace'], description: 'how the run reached the platform' },
  sessionId: nullable('string', { description: 'Nextflow session id' }),
  runName: nullable('string', { description: 'Nextflow run name' }),
  submitter: nullable('string'),
  owner: nullable('string', { description: 'id of the API token that submitted the run' }),
  profiles: { type: 'array', items: { type: 'string' } },
  commandLine: nullable('string'),
  nextflowVersion: nullable('string'),
  launcher: nullable('string'),
  launchDir: nullable('string'),
  outdir: nullable('string'),
  workDir: nullable('string'),
  nativeId: nullable('string'),
  resumedFrom: nullable('string'),
  errorMessage: nullable('string'),
  exitStatus: nullable('integer'),
  labels: { type: 'object', additionalProperties: { type: 'string' } },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
  startedAt: nullable('string', { format: 'date-time' }),
  completedAt: nullable('string', { format: 'date-time' }),
  resultsIngestedAt: nullable('string', { format: 'date-time' }),
  delivery: {
    type: 'object',
    description: 'event delivery health: events stored, the last one, and gaps in the plugin sequence numbers',
    required: ['eventsReceived', 'lastEventAt', 'maxSeq', 'missingSeq'],
    properties: {
      eventsReceived: { type: 'integer' },
      lastEventAt: nullable('string', { format: 'date-time' }),
      maxSeq: nullable('integer'),
      missingSeq: { type: 'integer' },
    },
  },
};
const runRequired = ['id', 'name', 'status', 'source', 'labels', 'createdAt', 'updatedAt', 'delivery', 'profiles'];

export const RunSummary = { type: 'object', required: runRequired, properties: runProperties };

export const RunDetail = {
  type: 'object',
  required: [...runRequired, 'progress', 'params'],
  properties: {
    ...runProperties,
    params: freeObject,
    samplesheet: nullable('string'),
    progress: Progress,
    timings: {
      type: 'object',
      properties: { queuedMs: nullable('integer'), wallMs: nullable('integer') },
    },
  },
};

export const RunList = {
  type: 'object',
  required: ['items', 'nextCursor', 'total'],
  properties: { items: { type: 'array', items: RunSummary }, nextCursor: nullable('string'), total: { type: 'integer' } },
};

export const RunRequestBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    params: { ...freeObject, description: 'pipeline parameters (nextflow_schema.json); input and outdir are set by the platform' },
    samplesheet: { type: 'string', description: 'samplesheet CSV text (assets/schema_input.json)', maxLength: 10_000_000 },
    profiles: { type: 'array', items: { type: 'string' }, maxItems: 8, description: 'extra Nextflow profiles: test, stub, local' },
    name: { type: 'string', maxLength: 200 },
    labels: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 64 },
    submitter: { type: 'string', maxLength: 200 },
  },
} as const;

export const ValidationResult = {
  type: 'object',
  required: ['valid', 'errors', 'command'],
  properties: { valid: { type: 'boolean' }, errors: { type: 'array', items: ErrorDetail }, command: { type: 'string' } },
};

const taskValueSchema = (kind: string) =>
  kind === 'str'
    ? nullable('string')
    : kind === 'perc'
      ? nullable('number')
      : kind === 'date'
        ? nullable('string', { format: 'date-time' })
        : nullable('integer');

export const Task = {
  type: 'object',
  required: ['task_id', 'attempt', 'status'],
  properties: {
    task_id: { type: 'integer' },
    attempt: { type: 'integer' },
    status: { type: 'string', enum: TASK_STATUSES },
    ...Object.fromEntries(TASK_FIELDS.map((f) => [f.column, taskValueSchema(f.kind)])),
    extra: { ...freeObject, description: 'trace fields the platform has no column for' },
  },
};

export const TaskList = {
  type: 'object',
  required: ['items', 'total', 'nextCursor'],
  properties: {
    items: { type: 'array', items: Task },
    total: { type: 'integer' },
    nextCursor: nullable('string', {
      description: 'pass as `cursor` for the page after this one (same sort, order and filters); null on the last page',
    }),
  },
};

export const Output = {
  type: 'object',
  required: ['path', 'kind', 'sample', 'size', 'sha256'],
  properties: {
    path: { type: 'string', description: 'relative to the run outdir, as the manifest lists it' },
    kind: { type: 'string', description: 'what the file holds (cells, barcode_ranks, metrics, h5ad, report…)' },
    sample: nullable('string'),
    size: { type: 'integer', description: 'bytes' },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  },
} as const;

export const Sample = {
  type: 'object',
  required: ['sample', 'registration', 'metrics', 'qcThresholds'],
  properties: {
    sample: { type: 'string' },
    batch: nullable('string'),
    chemistry: nullable('string'),
    registration: freeObject,
    metrics: { type: 'object', additionalProperties: true, description: 'CellRanger metrics_summary names; percentages as fractions' },
    qcThresholds: freeObject,
    cellsBeforeQc: nullable('integer'),
    cellsAfterQc: nullable('integer'),
  },
};

export const WeblogEventSchema = {
  type: 'object',
  required: ['runName', 'runId', 'event'],
  additionalProperties: true,
  properties: {
    runName: { type: 'string' },
    runId: { type: 'string', description: 'Nextflow session id' },
    event: {
      type: 'string',
      description: 'started, process_submitted, process_started, process_completed, process_cached, error, completed',
    },
    utcTime: { type: 'string' },
    trace: { ...freeObject, description: 'TraceRecord fields (typed values)' },
    metadata: freeObject,
    seq: { type: 'integer', minimum: 0, description: 'nf-scrna: per-run sequence number from 1' },
    timestamp: { type: 'string', description: 'nf-scrna: ISO-8601 UTC with ms' },
    platformRunId: { type: 'string', format: 'uuid', description: 'nf-scrna: SCRNA_RUN_ID' },
  },
};

export const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
