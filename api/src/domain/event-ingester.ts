// Writes events in batches with group commit: each request's events join the next batch and the request is answered
// once that batch is committed, so "accepted" (202) means stored. Lingering a few milliseconds lets concurrent
// requests share one transaction instead of one each.
import { DomainError, isRetryable, isUnavailable } from './errors.js';
import type { EventRecorder } from './event-recorder.js';
import type { IncomingEvent } from './ports.js';

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
}

/** One request's events, stored together or not at all. */
interface Submission {
  events: IncomingEvent[];
  resolve(): void;
  reject(e: unknown): void;
}

export class EventIngester {
  private queue: Submission[] = [];
  private queued = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly writers: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly lingerMs: number;
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
   * Resolves when the events are committed. Rejects with `busy` when the queue is full, `unavailable` when the
   * database cannot be reached, or the store's own error when these events cannot be stored (nothing of them is).
   */
  submit(events: IncomingEvent[]): Promise<void> {
    if (this.queued + events.length > this.maxQueue)
      return Promise.reject(new DomainError('busy', 'the event queue is full; try again shortly'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.queued += events.length;
      if (this.running.size < this.writers) {
        const w: Promise<void> = this.loop().finally(() => this.running.delete(w));
        this.running.add(w);
      }
    });
  }

  private async loop(): Promise<void> {
    while (this.queue.length) {
      if (this.queued < this.maxBatch) await new Promise((r) => setTimeout(r, this.lingerMs));
      const batch: Submission[] = [];
      let n = 0;
      while (this.queue.length && (n === 0 || n + this.queue[0]!.events.length <= this.maxBatch)) {
        const s = this.queue.shift()!;
        batch.push(s);
        n += s.events.length;
      }
      this.queued -= n;
      try {
        await this.write(batch.flatMap((s) => s.events));
        for (const s of batch) s.resolve();
      } catch (e) {
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
    s.reject(isUnavailable(e) ? new DomainError('unavailable', 'the database is unavailable; retry shortly') : e);
  }

  /** Resolves when everything submitted so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }
}
