// JSON schemas of requests and responses; the OpenAPI document is generated from them.

import { IDEMPOTENCY_HEADER, KEY_PATTERN } from '../domain/idempotency.js';
import { RUN_STATUSES } from '../domain/ports.js';
import { CLIENT_PROFILES, LABEL_KEY } from '../domain/runs.js';
import { TASK_FIELDS, TASK_STATUSES } from '../domain/task-fields.js';
import { INT32_MAX } from '../domain/values.js';
import { TASK_EVENTS } from '../domain/weblog.js';

/** An integer parameter compared with (or stored in) a 32-bit integer column. */
export const int32 = { type: 'integer', minimum: 0, maximum: INT32_MAX } as const;

export const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
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
  project: { type: 'string', description: 'the project the run belongs to' },
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
    required: ['eventsReceived', 'lastEventAt', 'maxSeq', 'missingSeq', 'endReceived', 'unacknowledged'],
    properties: {
      eventsReceived: { type: 'integer' },
      lastEventAt: nullable('string', { format: 'date-time' }),
      maxSeq: nullable('integer'),
      missingSeq: { type: 'integer', description: 'numbered events below maxSeq not stored' },
      endReceived: { type: 'boolean', description: "the plugin's end-of-run `completed` event (numbered last) is stored" },
      unacknowledged: nullable('integer', {
        description:
          'numbered events not stored; null when unknowable: no numbered events, or the run ended without its end event ' +
          "(the rest is still in the plugin's spool: `scrna events replay <launchDir>/.scrna-events.jsonl`)",
      }),
    },
  },
};
const runRequired = ['id', 'name', 'status', 'source', 'project', 'labels', 'createdAt', 'updatedAt', 'delivery', 'profiles'];

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

const launchProperties = {
  params: {
    ...freeObject,
    description:
      'pipeline parameters, checked against the pipeline schema (GET /schema/params; 400 names params.<name>); input and outdir are set by the platform',
  },
  samplesheet: {
    type: 'string',
    minLength: 1,
    maxLength: 10_000_000,
    description: 'samplesheet CSV text, checked against GET /schema/samplesheet (400 names row, line and column)',
  },
  profiles: {
    type: 'array',
    items: { type: 'string', enum: CLIENT_PROFILES },
    maxItems: 8,
    description: 'extra Nextflow profiles',
  },
  name: { type: 'string', maxLength: 200 },
  labels: {
    type: 'object',
    propertyNames: { pattern: LABEL_KEY.source },
    additionalProperties: { type: 'string', maxLength: 255 },
    maxProperties: 64,
  },
  submitter: { type: 'string', maxLength: 200 },
} as const;

export const RunRequestBody = {
  type: 'object',
  additionalProperties: false,
  properties: launchProperties,
  // The test profile brings its own samplesheet; every other launch sends one.
  allOf: [
    { anyOf: [{ required: ['samplesheet'] }, { required: ['profiles'], properties: { profiles: { contains: { const: 'test' } } } }] },
  ],
} as const;

/**
 * POST /runs/validate takes what a launch form may hold and reports every problem in its answer (`errors`), so
 * the rules it reports (profiles, label keys, a missing samplesheet) are not request-schema rules here.
 */
export const ValidateRequestBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...launchProperties,
    profiles: { type: 'array', items: { type: 'string' }, maxItems: 8, description: 'extra Nextflow profiles' },
    labels: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 64 },
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
    runName: { type: 'string', minLength: 1 },
    runId: { type: 'string', minLength: 1, description: 'Nextflow session id' },
    event: {
      type: 'string',
      minLength: 1,
      description: 'started, process_submitted, process_started, process_completed, process_cached, error, completed',
    },
    utcTime: { type: ['string', 'null'] },
    trace: { type: ['object', 'null'], additionalProperties: true, description: 'TraceRecord fields (typed values)' },
    metadata: { type: ['object', 'null'], additionalProperties: true },
    seq: { ...int32, description: 'nf-scrna: per-run sequence number from 1' },
    timestamp: { type: ['string', 'null'], description: 'nf-scrna: ISO-8601 UTC with ms' },
    platformRunId: { type: 'string', format: 'uuid', description: 'nf-scrna: SCRNA_RUN_ID' },
  },
  // A task event carries the task: its id (and attempt) are stored in 32-bit columns, its status is a known one.
  allOf: [
    {
      anyOf: [
        { properties: { event: { not: { enum: [...TASK_EVENTS] } } } },
        {
          required: ['trace'],
          properties: {
            trace: {
              type: 'object',
              required: ['task_id'],
              properties: {
                task_id: int32,
                attempt: { type: ['integer', 'null'], minimum: -INT32_MAX, maximum: INT32_MAX },
                status: { anyOf: [{ type: 'string', enum: TASK_STATUSES }, { type: 'null' }] },
              },
            },
          },
        },
      ],
    },
  ],
};

/** The Idempotency-Key request header of submission routes (see domain/idempotency.ts). */
export const IdempotencyKeyHeaders = {
  type: 'object',
  properties: {
    [IDEMPOTENCY_HEADER]: {
      type: 'string',
      pattern: KEY_PATTERN,
      description:
        "a key of the client's choosing (1-255 printable ASCII): a retry with the same key and body gets the first response; another body with it a 422. Kept 24 h.",
    },
  },
} as const;

export const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;

// Request pieces that state what the server enforces, so a request valid by the document is one the server takes.

const YEAR = '(?:000[1-9]|00[1-9]\\d|0[1-9]\\d\\d|[1-9]\\d{3})';
// Days that exist; 29 February only in leap years (years 0001-9999: the range Postgres reads in ISO form).
const MONTH_DAY = '(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)';
const LEAP_YEAR = '(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)';
export const DATE_RE = `(?:${YEAR}-${MONTH_DAY}|${LEAP_YEAR}-02-29)`;
const TIME_RE = '(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?';
// Postgres refuses offsets beyond ±15:59 and leap seconds with a fraction, so neither is offered.
const OFFSET_RE = '(?:Z|[+-](?:0\\d|1[0-5]):[0-5]\\d)';
export const DATE_TIME_RE = `${DATE_RE}T${TIME_RE}${OFFSET_RE}`;
const UUID_RE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** An RFC 3339 date-time in the range the database holds. */
export const dateTimeParam = { type: 'string', format: 'date-time', pattern: `^${DATE_TIME_RE}$` } as const;

/** A run list position: the last run's creation time and id (`nextCursor`); any such pair is a valid position. */
export const cursorParam = {
  type: 'string',
  pattern: `^${DATE_TIME_RE}_${UUID_RE}$`,
  description: 'nextCursor of the previous page: <createdAt>_<id> of its last run',
} as const;

/** A comma list of run statuses. */
export const statusListParam = {
  type: 'string',
  pattern: `^(?:${RUN_STATUSES.join('|')})(?:,(?:${RUN_STATUSES.join('|')}))*$`,
  description: `comma-separated: ${RUN_STATUSES.join(', ')}`,
} as const;

/** Zones a trace's dates may be written in: IANA names, UTC, Z, or a fixed offset. */
export const timeZoneParam = {
  anyOf: [
    { type: 'string', enum: ['UTC', 'Z', ...Intl.supportedValuesOf('timeZone')] },
    { type: 'string', pattern: '^[+-]\\d{2}:?\\d{2}$' },
  ],
  default: 'UTC',
  description: 'zone the trace dates were written in (the JVM zone), e.g. Europe/Berlin or +02:00',
} as const;

/**
 * A trace file body. The form the server reads is wider (any field order and subset, raw mode, CSV); the pattern
 * describes a family of valid files so generated requests are real traces. Anything else gets 400 with line and column.
 */
export const TRACE_BODY_PATTERN = `^task_id\\thash\\tname\\tstatus\\texit\\n(?:[1-9]\\d{0,8}\\t[0-9a-f]{2}/[0-9a-f]{6}\\t[A-Z][A-Z0-9_]{0,15}(?: \\([a-z0-9_]{1,10}\\))?\\t(?:COMPLETED|FAILED|ABORTED|CACHED)\\t(?:-|\\d{1,3})\\n){1,20}$`;

/**
 * The `text/event-stream` content of an SSE route: each event (as a client parses it: `event` name, `data` text) is
 * one of `events`, its data JSON of the given schema.
 */
export function sseStream(events: { event: string; data: object }[]) {
  return {
    'text/event-stream': {
      schema: {
        anyOf: events.map((e) => ({
          type: 'object',
          required: ['event', 'data'],
          properties: {
            event: { type: 'string', enum: [e.event] },
            data: { type: 'string', contentMediaType: 'application/json', contentSchema: e.data },
          },
        })),
      },
    },
  } as const;
}
