// The event spool on local disk: JSON lines (one submission each) appended to segment files. A flush writes every
// submission that arrived since the last one started, then fdatasyncs, and answers them all; a few flushes run at once,
// so requests arriving during one sync need not wait for it (under disk contention a sync takes milliseconds). Lines
// are whole writes to a file opened for appending, so they never interleave; their order does not matter (events
// converge in any order). A segment is deleted once every submission in it is stored and a new one has been started
// (every 16 MiB). At start, the segments a previous process left are read back; a torn last line (the process died
// mid-write) was never acknowledged.
import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { EventSpool, IncomingEvent, SpoolTicket } from '../domain/ports.js';

const NAME = /^events-(\d+)\.jsonl$/;
const FLUSHES = 4;

interface Pending {
  line: string;
  resolve(t: SpoolTicket): void;
  reject(e: unknown): void;
}

interface Segment {
  fd: FileHandle | null;
  size: number;
  /** Submissions written and not yet released. */
  unreleased: number;
  /** Flushes writing to it now. */
  writing: number;
}

export class FsEventSpool implements EventSpool {
  private segment = 0;
  private readonly segments = new Map<number, Segment>();
  private pending: Pending[] = [];
  private flushes = 0;
  private rotating: Promise<void> | null = null;
  private idle: (() => void) | null = null;
  private previous: number[] = [];

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  static async open(dir: string, segmentBytes = 16 << 20): Promise<FsEventSpool> {
    const s = new FsEventSpool(dir, segmentBytes);
    await mkdir(dir, { recursive: true });
    s.previous = (await readdir(dir))
      .map((f) => NAME.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    s.segment = (s.previous.at(-1) ?? 0) + 1;
    await s.openSegment(s.segment);
    return s;
  }

  private file(n: number) {
    return path.join(this.dir, `events-${n}.jsonl`);
  }

  private async openSegment(n: number): Promise<void> {
    const fd = await open(this.file(n), 'a');
    // The new file's directory entry must be durable too, or a crash could lose the whole segment.
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    this.segments.set(n, { fd, size: 0, unreleased: 0, writing: 0 });
  }

  append(events: IncomingEvent[]): Promise<SpoolTicket> {
    const line = `${JSON.stringify(events)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    while (this.flushes < FLUSHES && this.pending.length && !this.rotating) {
      const batch = this.pending;
      this.pending = [];
      this.flushes++;
      void this.flush(batch).finally(() => {
        this.flushes--;
        if (!this.flushes) this.idle?.();
        this.kick();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const n = this.segment;
    const seg = this.segments.get(n)!;
    seg.writing++;
    try {
      const buf = Buffer.from(batch.map((p) => p.line).join(''));
      seg.size += buf.length;
      await seg.fd!.write(buf);
      await seg.fd!.datasync();
      seg.unreleased += batch.length;
      for (const p of batch) p.resolve(n);
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      seg.writing--;
    }
    if (n === this.segment && seg.size >= this.segmentBytes && !this.rotating)
      this.rotating = this.openSegment(n + 1)
        .then(() => {
          this.segment = n + 1;
          void this.dropIfDone(n);
        })
        .catch(() => undefined) // keep appending to the full segment
        .finally(() => {
          this.rotating = null;
          this.kick();
        });
    else void this.dropIfDone(n);
  }

  release(ticket: SpoolTicket): void {
    const seg = this.segments.get(ticket);
    if (!seg) return;
    seg.unreleased--;
    void this.dropIfDone(ticket);
  }

  /** A segment no longer written to whose submissions are all stored is deleted. */
  private async dropIfDone(n: number): Promise<void> {
    const seg = this.segments.get(n);
    if (!seg || n === this.segment || seg.unreleased > 0 || seg.writing > 0) return;
    this.segments.delete(n);
    await seg.fd?.close().catch(() => undefined);
    await unlink(this.file(n)).catch(() => undefined);
  }

  async recover(): Promise<{ ticket: SpoolTicket; events: IncomingEvent[] }[]> {
    const out: { ticket: SpoolTicket; events: IncomingEvent[] }[] = [];
    for (const seg of this.previous) {
      const lines = (await readFile(this.file(seg), 'utf8')).split('\n');
      let n = 0;
      for (const line of lines) {
        if (!line) continue;
        let events: (Omit<IncomingEvent, 'receivedAt'> & { receivedAt: string })[];
        try {
          events = JSON.parse(line);
        } catch {
          continue; // the torn tail of a write that was never answered
        }
        out.push({ ticket: seg, events: events.map((e) => ({ ...e, receivedAt: new Date(e.receivedAt) })) });
        n++;
      }
      this.segments.set(seg, { fd: null, size: 0, unreleased: n, writing: 0 });
      await this.dropIfDone(seg);
    }
    this.previous = [];
    return out;
  }

  async close(): Promise<void> {
    if (this.flushes) await new Promise<void>((r) => (this.idle = r));
    await this.rotating;
    for (const seg of this.segments.values()) {
      await seg.fd?.close();
      seg.fd = null;
    }
    if (this.segments.get(this.segment)?.unreleased === 0) await unlink(this.file(this.segment)).catch(() => undefined);
  }
}
