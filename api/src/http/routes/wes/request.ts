// Parsing a WES RunWorkflow form (multipart/form-data) into a WesRunRequest: each field once, JSON fields checked for
// depth before they are parsed, the samplesheet attachment read as UTF-8 text within the native route's limit.
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../../domain/errors.js';
import type { WesAttachment, WesRunRequest } from '../../../domain/wes.js';
import { scanJson } from '../../json-body.js';
import { DEFAULT_BODY_LIMIT, MAX_JSON_DEPTH } from '../../limits.js';
import { RunRequestBody } from '../../schemas.js';

/** The samplesheet's limit is the native route's (its schema's maxLength, in characters). */
const SAMPLESHEET_MAX = RunRequestBody.properties.samplesheet.maxLength;

/** What busboy may hold for one form: a handful of fields, one file, nothing larger than a native launch body. */
export const WES_FORM_LIMITS = { fields: 16, files: 1, parts: 17, fieldSize: DEFAULT_BODY_LIMIT, fileSize: DEFAULT_BODY_LIMIT } as const;

const TEXT_FIELDS = ['workflow_type', 'workflow_type_version', 'workflow_url', 'workflow_engine', 'workflow_engine_version'] as const;
const JSON_FIELDS = ['workflow_params', 'tags', 'workflow_engine_parameters'] as const;
const REQUIRED = ['workflow_type', 'workflow_type_version', 'workflow_url'] as const;
/** Multipart errors that are the client's: limits (413) and bodies that do not parse (400). */
const CLIENT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT', 'FST_REQ_FILE_TOO_LARGE', 'FST_PROTO_VIOLATION']);

const invalid = (field: string, message: string) => new DomainError('invalid', `${field}: ${message}`, { field });

function jsonField(field: string, value: unknown): Record<string, unknown> {
  let parsed = value;
  if (typeof value === 'string') {
    const problem = scanJson(value, MAX_JSON_DEPTH);
    if (problem) throw invalid(field, problem.replace(/^body: /, ''));
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      throw invalid(field, `not JSON (${(e as Error).message})`);
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(field, 'must be a JSON object');
  return parsed as Record<string, unknown>;
}

function stringMap(field: string, value: unknown): Record<string, string> {
  const o = jsonField(field, value);
  for (const [k, v] of Object.entries(o)) if (typeof v !== 'string') throw invalid(`${field}.${k}`, 'must be a string');
  return o as Record<string, string>;
}

async function attachment(part: { filename: string; toBuffer(): Promise<Buffer> }): Promise<WesAttachment> {
  const bytes = await part.toBuffer();
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid('workflow_attachment', `${part.filename} is not UTF-8 text`);
  }
  if (text.length > SAMPLESHEET_MAX) throw new DomainError('too_large', `workflow_attachment: over ${SAMPLESHEET_MAX} characters`);
  if (text.includes('\0')) throw invalid('workflow_attachment', `${part.filename} holds NUL bytes`);
  return { filename: part.filename, text };
}

/** Reads the whole form; a refused part stops it there, before anything is stored. */
export async function parseRunForm(req: FastifyRequest): Promise<WesRunRequest> {
  if (!req.isMultipart()) throw new DomainError('unsupported_media', 'send the run request as multipart/form-data', { field: 'body' });
  const fields = new Map<string, unknown>();
  const files: WesAttachment[] = [];
  try {
    for await (const part of req.parts({ limits: WES_FORM_LIMITS })) {
      const name = part.fieldname;
      if (part.type === 'file') {
        if (name !== 'workflow_attachment') throw invalid(name, 'only workflow_attachment may carry a file');
        files.push(await attachment(part));
        continue;
      }
      if (!(TEXT_FIELDS as readonly string[]).includes(name) && !(JSON_FIELDS as readonly string[]).includes(name))
        throw invalid(name, 'not a RunRequest field');
      if (fields.has(name)) throw invalid(name, 'sent more than once');
      if (part.valueTruncated) throw new DomainError('too_large', `${name}: over ${WES_FORM_LIMITS.fieldSize} bytes`, { field: name });
      fields.set(name, part.value);
    }
  } catch (e) {
    if (e instanceof DomainError) throw e;
    const code = (e as { code?: string }).code ?? '';
    if (code === 'FST_FILES_LIMIT') throw invalid('workflow_attachment', 'attach one file: the samplesheet');
    if (CLIENT_CODES.has(code)) throw e;
    // busboy's own refusals (no boundary, a malformed part, a body cut short) are the client's, not ours.
    throw new DomainError('invalid', `body: not a well-formed multipart form (${(e as Error).message})`, { field: 'body' });
  }
  for (const k of REQUIRED) if (typeof fields.get(k) !== 'string' || fields.get(k) === '') throw invalid(k, 'is required');
  for (const k of TEXT_FIELDS) if (fields.has(k) && typeof fields.get(k) !== 'string') throw invalid(k, 'must be text');
  const text = (k: (typeof TEXT_FIELDS)[number]) => fields.get(k) as string | undefined;
  return {
    workflow_params: fields.has('workflow_params') ? jsonField('workflow_params', fields.get('workflow_params')) : {},
    workflow_type: text('workflow_type')!,
    workflow_type_version: text('workflow_type_version')!,
    workflow_url: text('workflow_url')!,
    workflow_engine: text('workflow_engine'),
    workflow_engine_version: text('workflow_engine_version'),
    tags: fields.has('tags') ? stringMap('tags', fields.get('tags')) : {},
    workflow_engine_parameters: fields.has('workflow_engine_parameters')
      ? stringMap('workflow_engine_parameters', fields.get('workflow_engine_parameters'))
      : {},
    workflow_attachment: files,
  };
}
