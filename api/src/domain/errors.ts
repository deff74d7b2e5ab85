// What can go wrong with a request, said as kinds; the HTTP layer (http/errors.ts) alone maps kinds to status codes.
export interface ErrorDetail {
  field?: string;
  row?: number;
  column?: string | number;
  line?: number;
  message: string;
}

export type ErrorKind =
  /** The input is malformed or breaks a rule. */
  | 'invalid'
  /** No credentials, or unknown ones. */
  | 'unauthenticated'
  /** Credentials that may not do this. */
  | 'forbidden'
  | 'not_found'
  /** The thing's current state does not allow it. */
  | 'conflict'
  | 'too_large'
  | 'unsupported_media'
  /** Well-formed, but its content does not check out (a checksum, a schema). */
  | 'unprocessable'
  /** Full for now: try again shortly. */
  | 'busy'
  | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly detail: Omit<ErrorDetail, 'message'> & { errors?: ErrorDetail[] } = {},
  ) {
    super(message);
  }
}

/** Error codes (Postgres SQLSTATE classes 08, 53, 57P0x; socket errors) that say the database is out of reach, not that the request is wrong. */
const UNAVAILABLE = /^(08|53|57P0)|^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND)$/;

export function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE.test(code);
}

/** Serialization failure or deadlock (SQLSTATE 40001, 40P01): the transaction was aborted and may simply be run again. */
export const isRetryable = (e: unknown) => ['40001', '40P01'].includes(String((e as { code?: unknown } | null)?.code));
