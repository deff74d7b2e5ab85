// COPY ... FROM STDIN in text format: the bulk paths (trace import, cells) stream rows this way because it is
// several times faster than INSERTs of the same rows (bench/trace-import.ts measures it against psql \copy).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

const COPY_SPECIAL = /[\\\t\n\r]/;

/** A value as COPY text: \N for null (and non-finite numbers), objects as JSON, the four specials escaped. */
export function copyEscape(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return COPY_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s;
}

/** Streams the chunks (whole lines of COPY text) into `statement` (a `COPY ... FROM STDIN`) on the client. */
export async function copyFrom(client: pg.PoolClient, statement: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyStreams.from(statement)));
}
