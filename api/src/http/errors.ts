// The one place domain error kinds become HTTP status codes, and the error body every route answers with.
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ErrorKind } from '../domain/errors.js';

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
