// JSON schemas of the GA4GH WES 1.1 answers, as this service fills them: they drive serialisation and the OpenAPI
// document; the test suite checks every answer against the official specification as well.
import { WES_ENGINE, WES_ENGINE_PARAMETERS, WES_PIPELINE, WES_WORKFLOW_TYPE, WES_WORKFLOW_TYPE_VERSIONS } from '../../../domain/wes.js';
import { WES_STATES } from '../../../domain/wes-states.js';

const str = { type: 'string' } as const;
const strings = { type: 'array', items: str } as const;
const stringMap = { type: 'object', additionalProperties: str } as const;
const State = { type: 'string', enum: WES_STATES } as const;

/** WES ErrorResponse: every error of the /ga4gh/wes/v1 routes. */
export const WesError = {
  type: 'object',
  required: ['msg', 'status_code'],
  properties: { msg: str, status_code: { type: 'integer' } },
} as const;

export const WesErrors = { '4xx': WesError, '5xx': WesError } as const;

export const RunId = { type: 'object', required: ['run_id'], properties: { run_id: str } } as const;

export const RunStatus = { type: 'object', required: ['run_id', 'state'], properties: { run_id: str, state: State } } as const;

export const RunSummary = {
  type: 'object',
  required: ['run_id', 'state', 'tags'],
  properties: { run_id: str, state: State, start_time: str, end_time: str, tags: stringMap },
} as const;

export const RunListResponse = {
  type: 'object',
  required: ['runs', 'next_page_token'],
  properties: {
    runs: { type: 'array', items: RunSummary },
    next_page_token: { type: 'string', description: 'pass as page_token for the next page; empty when there is none' },
  },
} as const;

const logProperties = {
  name: str,
  cmd: strings,
  start_time: str,
  end_time: str,
  stdout: { type: 'string', description: 'URL of the log' },
  stderr: { type: 'string', description: 'URL of the log' },
  exit_code: { type: 'integer' },
  system_logs: strings,
} as const;

export const Log = { type: 'object', properties: logProperties } as const;

export const TaskLog = { type: 'object', required: ['id', 'name'], properties: { id: str, ...logProperties } } as const;

export const TaskListResponse = {
  type: 'object',
  required: ['task_logs', 'next_page_token'],
  properties: { task_logs: { type: 'array', items: TaskLog }, next_page_token: str },
} as const;

export const RunRequest = {
  type: 'object',
  required: ['workflow_type', 'workflow_type_version', 'workflow_url'],
  properties: {
    workflow_params: { type: 'object', additionalProperties: true },
    workflow_type: str,
    workflow_type_version: str,
    workflow_url: str,
    workflow_engine: str,
    tags: stringMap,
    workflow_engine_parameters: stringMap,
  },
} as const;

export const RunLog = {
  type: 'object',
  required: ['run_id', 'request', 'state', 'run_log', 'task_logs_url', 'outputs'],
  properties: {
    run_id: str,
    request: RunRequest,
    state: State,
    run_log: Log,
    task_logs_url: str,
    outputs: {
      type: 'object',
      description: "the files the run's manifest lists, by path: where to download each, its size, SHA-256, kind and sample",
      additionalProperties: {
        type: 'object',
        required: ['url', 'size', 'sha256', 'kind'],
        properties: { url: str, size: { type: 'integer' }, sha256: str, kind: str, sample: str },
      },
    },
  },
} as const;

export const ServiceInfo = {
  type: 'object',
  required: [
    'id',
    'name',
    'type',
    'organization',
    'version',
    'workflow_type_versions',
    'supported_wes_versions',
    'supported_filesystem_protocols',
    'workflow_engine_versions',
    'default_workflow_engine_parameters',
    'system_state_counts',
    'auth_instructions_url',
    'tags',
  ],
  properties: {
    id: str,
    name: str,
    description: str,
    type: { type: 'object', required: ['group', 'artifact', 'version'], properties: { group: str, artifact: str, version: str } },
    organization: { type: 'object', required: ['name', 'url'], properties: { name: str, url: str } },
    documentationUrl: str,
    version: str,
    workflow_type_versions: {
      type: 'object',
      additionalProperties: { type: 'object', properties: { workflow_type_version: strings } },
    },
    supported_wes_versions: strings,
    supported_filesystem_protocols: strings,
    workflow_engine_versions: {
      type: 'object',
      additionalProperties: { type: 'object', properties: { workflow_engine_version: strings } },
    },
    default_workflow_engine_parameters: {
      type: 'array',
      items: { type: 'object', properties: { name: str, type: str, default_value: str } },
    },
    system_state_counts: { type: 'object', additionalProperties: { type: 'integer' } },
    auth_instructions_url: str,
    tags: stringMap,
  },
} as const;

/** The multipart form of POST /runs, for the OpenAPI document (the handler parses the parts itself). */
export const RunRequestForm = {
  type: 'object',
  required: ['workflow_type', 'workflow_type_version', 'workflow_url'],
  properties: {
    workflow_params: { type: 'string', description: 'JSON object: the pipeline parameters (nextflow_schema.json)' },
    workflow_type: { type: 'string', description: WES_WORKFLOW_TYPE },
    workflow_type_version: { type: 'string', description: WES_WORKFLOW_TYPE_VERSIONS.join(' or ') },
    workflow_url: { type: 'string', description: `this platform's pipeline: ${WES_PIPELINE}` },
    workflow_engine: { type: 'string', description: `${WES_ENGINE} (optional)` },
    workflow_engine_version: { type: 'string' },
    tags: { type: 'string', description: 'JSON object of strings: become the run labels' },
    workflow_engine_parameters: {
      type: 'string',
      description: `JSON object of strings; allowed: ${WES_ENGINE_PARAMETERS.map((p) => p.name).join(', ')}`,
    },
    workflow_attachment: {
      type: 'array',
      items: { type: 'string', format: 'binary' },
      description: 'the samplesheet CSV (one file); workflow_params.input may name it',
    },
  },
} as const;
