// Accepts events at HTTP speed and writes them in batches behind the sender's back: nf-weblog has no retries and
// no timeouts, so a slow answer would delay every later event and Nextflow's shutdown.
import type { EventRecorder } from './event-recorder.js';
import type { IncomingEvent } from './ports.js';

export interface IngesterOptions {
  maxBatch?: number;
  /**
   * How long a small batch waits for more events before it is written. Events are answered 202 before they are written,
   * so this costs no sender time; it turns a stream of one-event requests into a few transactions instead of hundreds.
   */
  lingerMs?: number;
  /** Events held in memory before new ones are refused (429) instead of growing without bound. */
  maxQueue?: number;
  onError?: (e: unknown, events: IncomingEvent[]) => void;
  onStored?: (runIds: string[]) => void;
}

export class EventIngester {
  private queue: IncomingEvent[] = [];
  private running: Promise<void> | null = null;
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
    this.lingerMs = opts.lingerMs ?? 10;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues events; false when the queue is full (the caller answers 429). */
  offer(events: IncomingEvent[]): boolean {
    if (this.queue.length + events.length > this.maxQueue) return false;
    for (const e of events) this.queue.push(e);
    if (!this.running) this.running = this.loop().finally(() => (this.running = null));
    return true;
  }

  private async loop(): Promise<void> {
    while (this.queue.length) {
      // Let the requests that arrive meanwhile join this batch.
      if (this.queue.length < this.maxBatch) await new Promise((r) => setTimeout(r, this.lingerMs));
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const r = await this.recorder.apply(batch);
        this.stored += r.stored;
        this.opts.onStored?.(r.runIds);
      } catch (e) {
        // A batch that fails as a whole is retried event by event, so one bad event cannot drop its neighbours.
        if (batch.length > 1) {
          for (const ev of batch) {
            try {
              const r = await this.recorder.apply([ev]);
              this.stored += r.stored;
              this.opts.onStored?.(r.runIds);
            } catch (e1) {
              this.failed++;
              this.opts.onError?.(e1, [ev]);
            }
          }
        } else {
          this.failed++;
          this.opts.onError?.(e, batch);
        }
      }
    }
  }

  /** Resolves when everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.running || this.queue.length) {
      if (!this.running && this.queue.length) this.running = this.loop().finally(() => (this.running = null));
      await this.running;
    }
  }
}
