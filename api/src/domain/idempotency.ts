// Idempotent submission (the Idempotency-Key header): a keyed request runs once per project and key; a duplicate with
// the same body gets the first response again (same status, same run), one with another body a 422 naming the key.
// Keys are kept KEY_TTL_MS (at least 24 h), then purged. Every submission route (native POST /runs, WES POST /runs)
// goes through `once`, each hashing its own request with `requestHash`.
import { createHash } from 'node:crypto';
import { DomainError } from './errors.js';
import type { IdempotencyRepository, StoredResponse } from './repositories.js';

/** How long a key is remembered. */
export const KEY_TTL_MS = 24 * 3600_000;
/** The header, and how a key may look: 1 to 255 printable ASCII characters. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const KEY_PATTERN = '^[\\x21-\\x7e]{1,255}$';

/** Object keys sorted at every level, so the same request hashes the same however its JSON was ordered. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(canonical)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
        )
      : v;

/** The hash of a request: the operation it is for and its (parsed) body. */
export const requestHash = (operation: string, body: unknown): string =>
  createHash('sha256')
    .update(JSON.stringify([operation, canonical(body)]))
    .digest('hex');

export interface IdempotencyOptions {
  ttlMs: number;
  /** A claim left unanswered this long (its API stopped mid-request) may be taken over. */
  abandonedMs: number;
  /** How often, and how long, a duplicate waits for the first request's response. */
  pollMs: number;
  waitMs: number;
}

const DEFAULTS: IdempotencyOptions = { ttlMs: KEY_TTL_MS, abandonedMs: 10 * 60_000, pollMs: 50, waitMs: 60_000 };

export interface Answer<T> extends StoredResponse {
  body: T;
  /** The run the response is about, recorded with the key. */
  runId: string | null;
}

export class IdempotencyService {
  private readonly o: IdempotencyOptions;

  constructor(
    private readonly repo: IdempotencyRepository,
    opts: Partial<IdempotencyOptions> = {},
  ) {
    this.o = { ...DEFAULTS, ...opts };
  }

  /**
   * Runs `create` once per (project, key): the first caller runs it and its answer is stored; duplicates wait for
   * that answer and get it with `replayed: true`. A failed `create` releases the key (a retry runs again).
   */
  async once<T>(
    project: string,
    key: string,
    hash: string,
    create: () => Promise<Answer<T>>,
  ): Promise<StoredResponse & { body: T; replayed: boolean }> {
    const deadline = Date.now() + this.o.waitMs;
    for (;;) {
      const now = Date.now();
      if (await this.repo.claim(project, key, hash, new Date(now - this.o.ttlMs), new Date(now - this.o.abandonedMs))) {
        let answer: Answer<T>;
        try {
          answer = await create();
        } catch (e) {
          await this.repo.release(project, key);
          throw e;
        }
        await this.repo.complete(project, key, answer.runId, { status: answer.status, body: answer.body });
        return { status: answer.status, body: answer.body, replayed: false };
      }
      const held = await this.repo.find(project, key);
      if (held && held.requestHash !== hash)
        throw new DomainError('unprocessable', `Idempotency-Key '${key}' was already used with a different request`, {
          field: 'Idempotency-Key',
        });
      if (held?.response) return { status: held.response.status, body: held.response.body as T, replayed: true };
      // Still being answered (or released meanwhile: then the next claim takes it).
      if (Date.now() >= deadline)
        throw new DomainError('conflict', `a request with Idempotency-Key '${key}' is still being answered; retry shortly`, {
          field: 'Idempotency-Key',
        });
      if (held) await new Promise((r) => setTimeout(r, this.o.pollMs));
    }
  }

  /** Forgets keys past their time; returns how many. */
  purge(now = Date.now()): Promise<number> {
    return this.repo.purge(new Date(now - this.o.ttlMs));
  }
}
