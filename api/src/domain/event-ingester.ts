// Writes events in batches with group commit. Without a spool each request's events join the next batch and the
// request is answered once that batch is committed. With a spool (a local write-ahead log) a request is answered once
// its events are durable there, and batches are written behind it: "accepted" (202) still means durably stored, and a
// request no longer waits for a database commit. Spooled events the database cannot take for now (an outage) are
// retried until it can, and the spool hands back at start whatever a stopped process left unstored; while the database
// is known to be out of reach new requests are refused with 503 (the sender keeps them) rather than piled up.
// Lingering a few milliseconds lets concurrent requests share one transaction instead of one each.
import { DomainError, isRetryable, isUnavailable } from './errors.js';
import type { EventRecorder } from './event-recorder.js';
import type { EventSpool, IncomingEvent } from './ports.js';

export interface IngesterOptions {
  maxBatch?: number;
  /** How long a small batch waits for more requests before it is written. */
  lingerMs?: number;
  /** Events waiting to be written before new requests are refused (429) instead of growing without bound. */
  maxQueue?: number;
  /** Batches written at once, each in its own transaction: senders wait for their commit, so one writer would cap them. */
  writers?: number;
  onError?: (e: unknown, events: IncomingEvent[]) => void;
  onStored?: (runIds: string[]) => void;
  /** Answer once spooled instead of once committed. */
  spool?: EventSpool;
  /** Resolves when the database answers: after an outage, tried before a request is spooled again. */
  ping?: () => Promise<void>;
  /** Pause between tries of spooled events while the database is out of reach. */
  retryMs?: number;
}

/** One request's events, stored together or not at all. */
interface Submission {
  events: IncomingEvent[];
  resolve(): void;
  reject(e: unknown): void;
}

const unavailable = () => new DomainError('unavailable', 'the database is unavailable; retry shortly');

export class EventIngester {
  private queue: Submission[] = [];
  private queued = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly writers: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly lingerMs: number;
  /** The last write found the database out of reach (spool mode). */
  private down = false;
  private closing = false;
  stored = 0;
  failed = 0;

  constructor(
    private readonly recorder: Pick<EventRecorder, 'apply'>,
    private readonly opts: IngesterOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 2000;
    this.maxQueue = opts.maxQueue ?? 200_000;
    this.lingerMs = opts.lingerMs ?? 5;
    this.writers = opts.writers ?? 4;
  }

  get pending(): number {
    return this.queued;
  }

  /**
   * Resolves when the events are committed (or, with a spool, durable in it). Rejects with `busy` when the queue is
   * full, `unavailable` when the database cannot be reached, or the store's own error when these events cannot be
   * stored (nothing of them is).
   */
  async submit(events: IncomingEvent[]): Promise<void> {
    if (this.queued + events.length > this.maxQueue) throw new DomainError('busy', 'the event queue is full; try again shortly');
    const spool = this.opts.spool;
    if (!spool) return new Promise<void>((resolve, reject) => this.enqueue({ events, resolve, reject }));
    if (this.down) {
      try {
        await this.opts.ping?.();
        this.down = false;
      } catch {
        throw unavailable();
      }
    }
    const ticket = await spool.append(events);
    this.enqueue(this.spooled(ticket, events));
  }

  /** Queues what a previous process left in the spool; resolves once it is queued, not written (see drain). */
  async recover(): Promise<number> {
    const left = (await this.opts.spool?.recover()) ?? [];
    for (const { ticket, events } of left) this.enqueue(this.spooled(ticket, events));
    return left.reduce((n, l) => n + l.events.length, 0);
  }

  /** A spooled submission: released from the spool once stored. One the store refuses was answered 202 already, so
   * it is reported (onError) and dropped rather than retried forever. */
  private spooled(ticket: number, events: IncomingEvent[]): Submission {
    const release = () => this.opts.spool!.release(ticket);
    return { events, resolve: release, reject: release };
  }

  private enqueue(s: Submission): void {
    this.queue.push(s);
    this.queued += s.events.length;
    if (this.running.size < this.writers) {
      const w: Promise<void> = this.loop().finally(() => this.running.delete(w));
      this.running.add(w);
    }
  }

  private async loop(): Promise<void> {
    while (this.queue.length) {
      if (this.queued < this.maxBatch) await new Promise((r) => setTimeout(r, this.lingerMs));
      let k = 0;
      let n = 0;
      while (k < this.queue.length && (n === 0 || n + this.queue[k]!.events.length <= this.maxBatch)) n += this.queue[k++]!.events.length;
      // One splice per batch: with a spool the queue can hold a long backlog, and shift() per item is linear each time.
      const batch = this.queue.splice(0, k);
      this.queued -= n;
      try {
        await this.write(batch.flatMap((s) => s.events));
        for (const s of batch) s.resolve();
      } catch (e) {
        if (isUnavailable(e) && this.opts.spool) {
          // Durable in the spool: kept, in order, and tried again until the database is back (or this process stops;
          // the next one replays them).
          this.down = true;
          if (this.closing) return;
          this.queue.unshift(...batch);
          this.queued += n;
          await new Promise((r) => setTimeout(r, this.opts.retryMs ?? 1000));
          continue;
        }
        if (batch.length === 1 || isUnavailable(e)) for (const s of batch) this.fail(s, e);
        // One bad request must not fail its neighbours: write each on its own.
        else
          for (const s of batch) {
            try {
              await this.write(s.events);
              s.resolve();
            } catch (e1) {
              this.fail(s, e1);
            }
          }
      }
    }
  }

  private async write(events: IncomingEvent[]): Promise<void> {
    // Concurrent writers can deadlock on the same run's rows; Postgres then aborts one, which is safe to redo.
    let r: Awaited<ReturnType<EventRecorder['apply']>>;
    for (let attempt = 1; ; attempt++) {
      try {
        r = await this.recorder.apply(events);
        break;
      } catch (e) {
        if (attempt >= 3 || !isRetryable(e)) throw e;
      }
    }
    this.stored += r.stored;
    this.opts.onStored?.(r.runIds);
  }

  private fail(s: Submission, e: unknown): void {
    this.failed += s.events.length;
    this.opts.onError?.(e, s.events);
    s.reject(isUnavailable(e) ? unavailable() : e);
  }

  /** Resolves when everything submitted so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }

  /** Writes what it can and stops retrying: spooled events the database cannot take now stay for the next start. */
  async close(): Promise<void> {
    this.closing = true;
    await this.drain();
    await this.opts.spool?.close();
  }
}
