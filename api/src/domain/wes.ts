// GA4GH WES 1.1 submission rules: which workflow a WES request may name (this platform's pipeline only), which engine
// parameters it may set, and how it becomes the platform's own RunRequest (validated and launched like any other).
import { CONTROL } from './data-roots.js';
import { DomainError } from './errors.js';
import type { Run } from './ports.js';
import type { RunRequest, RunService } from './runs.js';

/** The WES workflow type of a Nextflow pipeline, and the DSL versions this platform's pipeline is written in. */
export const WES_WORKFLOW_TYPE = 'NFL';
export const WES_WORKFLOW_TYPE_VERSIONS = ['DSL2'];
/** The engine and the versions the launchers run (scripts/nextflow/pom.xml pins it; a test checks the two agree). */
export const WES_ENGINE = 'nextflow';
export const WES_ENGINE_VERSIONS = ['24.10.8'];
/** The only workflow a WES client may run: the pipeline's manifest name (nextflow.config; a test checks they agree). */
export const WES_PIPELINE = 'scrna-platform';

/**
 * Engine parameters a WES client may set, with their defaults; anything else is refused. `profile` is a comma list of
 * the client profiles the native route accepts (CLIENT_PROFILES).
 */
export const WES_ENGINE_PARAMETERS = [{ name: 'profile', type: 'string', default_value: '' }] as const;

/** A file part of the request: its name as the client gave it and its text. */
export interface WesAttachment {
  filename: string;
  text: string;
}

/** A WES RunRequest as the multipart form carried it, JSON fields parsed: plain data, so it can be fingerprinted. */
export interface WesRunRequest {
  workflow_params: Record<string, unknown>;
  workflow_type: string;
  workflow_type_version: string;
  workflow_url: string;
  tags: Record<string, string>;
  workflow_engine_parameters: Record<string, string>;
  workflow_engine?: string;
  workflow_engine_version?: string;
  workflow_attachment: WesAttachment[];
}

const invalid = (field: string, message: string) => new DomainError('invalid', `${field}: ${message}`, { field });

/** A relative attachment name without parent references (the WES specification asks servers to refuse those). */
function checkFilename(name: string): void {
  if (!name || name.startsWith('/') || name.split(/[\\/]/).includes('..') || CONTROL.test(name))
    throw invalid('workflow_attachment', `'${name}' is not a relative file name without '..'`);
}

/**
 * The platform RunRequest a WES request stands for: the workflow must be this pipeline, the engine parameters come from
 * the allow-list, and the one attachment (if any) is the samplesheet, which `workflow_params.input` may name. Params,
 * samplesheet and tags (labels) are then checked by RunService.validate exactly as for POST /api/v1/runs.
 */
export function toRunRequest(w: WesRunRequest): RunRequest {
  if (w.workflow_type !== WES_WORKFLOW_TYPE) throw invalid('workflow_type', `this service runs ${WES_WORKFLOW_TYPE} workflows only`);
  if (!WES_WORKFLOW_TYPE_VERSIONS.includes(w.workflow_type_version))
    throw invalid('workflow_type_version', `must be one of ${WES_WORKFLOW_TYPE_VERSIONS.join(', ')}`);
  if (w.workflow_url !== WES_PIPELINE) throw invalid('workflow_url', `this service runs its own pipeline only: '${WES_PIPELINE}'`);
  if (w.workflow_engine !== undefined && w.workflow_engine !== WES_ENGINE) throw invalid('workflow_engine', `must be ${WES_ENGINE}`);
  if (w.workflow_engine_version !== undefined && !WES_ENGINE_VERSIONS.includes(w.workflow_engine_version))
    throw invalid('workflow_engine_version', `must be one of ${WES_ENGINE_VERSIONS.join(', ')}`);
  const allowed: readonly string[] = WES_ENGINE_PARAMETERS.map((p) => p.name);
  for (const k of Object.keys(w.workflow_engine_parameters))
    if (!allowed.includes(k)) throw invalid(`workflow_engine_parameters.${k}`, `not allowed here (allowed: ${allowed.join(', ')})`);
  if (w.workflow_attachment.length > 1) throw invalid('workflow_attachment', 'attach one file: the samplesheet');
  const sheet = w.workflow_attachment[0];
  if (sheet) checkFilename(sheet.filename);
  const { input, ...params } = w.workflow_params;
  if (input !== undefined && input !== sheet?.filename)
    throw invalid('workflow_params.input', 'may only name the attached samplesheet (send it as workflow_attachment)');
  const profile = w.workflow_engine_parameters.profile ?? '';
  return {
    params,
    samplesheet: sheet?.text,
    profiles: profile
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    labels: w.tags,
  };
}

/** The WES RunRequest a platform run stands for (any run, however it was launched): the inverse of toRunRequest. */
export function wesRequestOf(run: Pick<Run, 'params' | 'labels' | 'profiles'>): Omit<WesRunRequest, 'workflow_attachment'> {
  return {
    workflow_params: run.params,
    workflow_type: WES_WORKFLOW_TYPE,
    workflow_type_version: WES_WORKFLOW_TYPE_VERSIONS[0]!,
    workflow_url: WES_PIPELINE,
    workflow_engine: WES_ENGINE,
    tags: run.labels,
    workflow_engine_parameters: run.profiles.length ? { profile: run.profiles.join(',') } : {},
  };
}

/** The native request's field names as the WES form names them. */
const WES_FIELDS: [RegExp, string][] = [
  [/^params(?=\.|$)/, 'workflow_params'],
  [/^labels(?=\.|$)/, 'tags'],
  [/^samplesheet$/, 'workflow_attachment'],
  [/^profiles\[\d+\]$/, 'workflow_engine_parameters.profile'],
];

/**
 * A refusal of RunService.validate said in WES terms: ErrorResponse carries only `msg`, so it names the form field,
 * and for the samplesheet its line and column (`workflow_attachment, line 3, column fastq_1: …`).
 */
function inWesTerms(e: DomainError): DomainError {
  const native = e.detail.field;
  if (!native) return e;
  const field = WES_FIELDS.reduce((f, [from, to]) => f.replace(from, to), native);
  const at = [field, e.detail.line !== undefined && `line ${e.detail.line}`, e.detail.column !== undefined && `column ${e.detail.column}`];
  return new DomainError(e.kind, `${at.filter(Boolean).join(', ')}: ${e.message}`, { ...e.detail, field });
}

/**
 * Submits a WES request as a platform run (validated and launched by RunService, like POST /api/v1/runs) and answers
 * its RunId; `owner` is the submitting API token. Plain data in and out, so an idempotency layer can wrap this call.
 */
export async function submitWes(
  runs: Pick<RunService, 'create'>,
  w: WesRunRequest,
  owner: string | null,
  project: string,
): Promise<{ run_id: string }> {
  const req = toRunRequest(w);
  try {
    const run = await runs.create({ ...req, submitter: owner ?? undefined }, owner, project);
    return { run_id: run.id };
  } catch (e) {
    throw e instanceof DomainError && e.kind === 'invalid' ? inWesTerms(e) : e;
  }
}
