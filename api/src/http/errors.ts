// The one place domain error kinds become HTTP status codes, and the error body every route answers with.
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { DomainError, type ErrorKind, isUnavailable } from '../domain/errors.js';

export const STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media: 415,
  unprocessable: 422,
  busy: 429,
  unavailable: 503,
};

/** Seconds a client is told to wait before retrying a 503 (the database out of reach). */
export const RETRY_AFTER_S = 5;

export function errorReply(reply: FastifyReply, status: number, message: string, detail: object = {}) {
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
  return reply
    .code(status)
    .type('application/json')
    .send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...detail });
}

/** Fastify's body errors (malformed JSON, over the limit): the field is the body. */
const BODY_ERRORS = new Set(['FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_BODY_TOO_LARGE', 'FST_ERR_CTP_EMPTY_JSON_BODY']);

function fieldOfValidation(err: { validation?: Validation; validationContext?: string }): string {
  const v = err.validation?.[0];
  if (!v) return err.validationContext ?? 'body';
  const at = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const missing =
    (v.params.missingProperty as string) ?? (v.params.additionalProperty as string) ?? (v.propertyName as string | undefined) ?? '';
  // A query or path parameter is named as the client wrote it (`cursor`, `id`); headers keep their prefix.
  const part = err.validationContext === 'headers' ? 'headers' : '';
  return [part, at, missing].filter(Boolean).join('.') || (err.validationContext ?? 'body');
}

type Validation = { instancePath: string; params: Record<string, unknown>; propertyName?: string }[];
type RequestError = Error & { statusCode?: number; validation?: Validation; validationContext?: string; code?: string };

/**
 * What an error thrown while serving a request becomes: its status, message and detail (field, line...). Client input
 * never yields a 5xx; the database out of reach is a 503 the client may retry; anything else is a 500.
 */
export function classifyError(error: Error): { status: number; message: string; detail: DomainError['detail'] } {
  const err = error as RequestError;
  if (err instanceof DomainError) return { status: STATUS_OF[err.kind], message: err.message, detail: err.detail };
  if (isUnavailable(err)) return { status: STATUS_OF.unavailable, message: 'the database is unavailable; retry shortly', detail: {} };
  if (err.validation) {
    const field = fieldOfValidation(err);
    return { status: 400, message: `${field}: ${err.message}`, detail: { field } };
  }
  // A data exception from Postgres (class 22) can only come from a value the client sent.
  if (/^22/.test(err.code ?? '') && !err.statusCode) return { status: 400, message: `invalid value: ${err.message}`, detail: {} };
  const code = err.statusCode ?? 500;
  if (code >= 400 && code < 500)
    return { status: code, message: err.message, detail: BODY_ERRORS.has(err.code ?? '') ? { field: 'body' } : {} };
  return { status: 500, message: 'internal error', detail: {} };
}
