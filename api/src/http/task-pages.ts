// A run's task pages over HTTP: opaque keyset cursors, the count of a filter kept while the run's tasks are unchanged
// (not recomputed per page), and for a finished run the serialized pages themselves with an ETag, so a page many
// viewers read costs one query and a client that has it gets 304.
import { createHash } from 'node:crypto';
import { DomainError } from '../domain/errors.js';
import { type Run, type TaskCursor, type TaskQuery, TERMINAL } from '../domain/ports.js';
import type { TaskRepository } from '../domain/repositories.js';

/** A cursor names its order too, so one from another sort is refused instead of read against the wrong column. */
export function encodeTaskCursor(q: Pick<TaskQuery, 'sort' | 'order'>, c: TaskCursor): string {
  return Buffer.from(JSON.stringify([q.sort, q.order, c.key, c.taskId, c.attempt])).toString('base64url');
}

export function decodeTaskCursor(s: string, q: Pick<TaskQuery, 'sort' | 'order'>): TaskCursor {
  try {
    const [sort, order, key, taskId, attempt] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    const int = (v: unknown) => Number.isInteger(v) && Math.abs(v as number) <= 2 ** 31 - 1;
    if (sort === q.sort && order === q.order && (key === null || typeof key === 'string') && int(taskId) && int(attempt))
      return { key, taskId, attempt };
  } catch {
    // not base64url JSON: refused below like any other cursor this API did not hand out
  }
  throw new DomainError('invalid', `cursor is not one this API returned for sort=${q.sort}&order=${q.order}`, { field: 'cursor' });
}

/**
 * Changes whenever the run's tasks may have: every writer of a run's tasks updates its run row in the same
 * transaction, an event batch adding to events_received, a trace import moving updated_at on by at least a
 * millisecond (task-merge.ts). Read from the run the request already loaded, so a cached page costs no query.
 */
const taskVersion = (run: Run) => `${run.updatedAt}|${run.delivery.eventsReceived}`;

/** Insertion-ordered map dropping its oldest entries past a budget (a hit moves an entry to the end). */
class Lru<V> {
  private readonly map = new Map<string, { v: V; size: number }>();
  private used = 0;
  constructor(private readonly budget: number) {}
  get(k: string): V | undefined {
    const e = this.map.get(k);
    if (!e) return undefined;
    this.map.delete(k);
    this.map.set(k, e);
    return e.v;
  }
  set(k: string, v: V, size = 1): void {
    if (size > this.budget) return;
    const old = this.map.get(k);
    if (old) this.used -= old.size;
    this.map.delete(k);
    this.map.set(k, { v, size });
    this.used += size;
    for (const [key, e] of this.map) {
      if (this.used <= this.budget) break;
      this.map.delete(key);
      this.used -= e.size;
    }
  }
}

export interface TaskPage {
  /** null: the client's If-None-Match matched, answer 304. */
  body: string | null;
  etag: string | null;
}

export class TaskPages {
  private readonly counts = new Lru<number>(10_000);
  private readonly pages: Lru<string>;
  private readonly building = new Map<string, Promise<string>>();

  constructor(
    private readonly tasks: Pick<TaskRepository, 'list' | 'count'>,
    pageBytes = 32 << 20,
  ) {
    this.pages = new Lru<string>(pageBytes);
  }

  /** The page as JSON text ({items, total, nextCursor}); the ETag (and 304) only for a run that has ended. */
  async page(run: Run, q: TaskQuery, ifNoneMatch: string | undefined): Promise<TaskPage> {
    const version = taskVersion(run);
    const filterKey = `${run.id}|${version}|${JSON.stringify(q.filters)}`;
    if (!TERMINAL.has(run.status)) return { body: await this.build(run.id, q, filterKey), etag: null };
    const key = `${filterKey}|${q.limit}|${q.offset}|${q.sort}|${q.order}|${JSON.stringify(q.after ?? null)}`;
    const etag = `"${createHash('sha1').update(key).digest('base64url')}"`;
    if (ifNoneMatch?.split(/\s*,\s*/).some((t) => t === etag || t === `W/${etag}` || t === '*')) return { body: null, etag };
    let body = this.pages.get(key);
    if (body === undefined) {
      // Viewers asking for the same page at once share one query instead of each running it.
      let building = this.building.get(key);
      if (!building) {
        building = this.build(run.id, q, filterKey).finally(() => this.building.delete(key));
        this.building.set(key, building);
      }
      body = await building;
      this.pages.set(key, body, body.length);
    }
    return { body, etag };
  }

  private async build(runId: string, q: TaskQuery, filterKey: string): Promise<string> {
    const known = this.counts.get(filterKey);
    const [{ items, next }, total] = await Promise.all([this.tasks.list(runId, q), known ?? this.tasks.count(runId, q.filters)]);
    if (known === undefined) this.counts.set(filterKey, total);
    return JSON.stringify({ items, total, nextCursor: next ? encodeTaskCursor(q, next) : null });
  }
}
