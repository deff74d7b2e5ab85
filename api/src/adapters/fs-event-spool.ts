// The event spool on local disk: JSON lines (one submission each) appended to segment files, written and fdatasync'ed
// once for all the submissions that arrived meanwhile (so one sync serves many concurrent requests). A segment is
// deleted once every submission in it is stored; the live segment is emptied when all of it is. At start, the segments
// a previous process left are read back; a torn last line (the process died mid-write) was never acknowledged.
import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { EventSpool, IncomingEvent, SpoolTicket } from '../domain/ports.js';

const NAME = /^events-(\d+)\.jsonl$/;

interface Pending {
  line: string;
  resolve(t: SpoolTicket): void;
  reject(e: unknown): void;
}

export class FsEventSpool implements EventSpool {
  private fd: FileHandle | null = null;
  private segment = 0;
  private size = 0;
  /** Unreleased submissions per segment. */
  private readonly unreleased = new Map<number, number>();
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private previous: number[] = [];

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  static async open(dir: string, segmentBytes = 64 << 20): Promise<FsEventSpool> {
    const s = new FsEventSpool(dir, segmentBytes);
    await mkdir(dir, { recursive: true });
    s.previous = (await readdir(dir))
      .map((f) => NAME.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    s.segment = (s.previous.at(-1) ?? 0) + 1;
    await s.openSegment();
    return s;
  }

  private file(n: number) {
    return path.join(this.dir, `events-${n}.jsonl`);
  }

  private async openSegment(): Promise<void> {
    this.fd = await open(this.file(this.segment), 'a');
    this.size = 0;
    this.unreleased.set(this.segment, 0);
    // The new file's directory entry must be durable too, or a crash could lose the whole segment.
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  append(events: IncomingEvent[]): Promise<SpoolTicket> {
    const line = `${JSON.stringify(events)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = null;
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        // All of the live segment stored: start it again rather than let it grow.
        if (this.size > 0 && this.unreleased.get(this.segment) === 0) {
          await this.fd!.truncate(0);
          this.size = 0;
        }
        const buf = Buffer.from(batch.map((p) => p.line).join(''));
        await this.fd!.write(buf);
        await this.fd!.datasync();
        this.size += buf.length;
        const seg = this.segment;
        this.unreleased.set(seg, this.unreleased.get(seg)! + batch.length);
        for (const p of batch) p.resolve(seg);
        if (this.size >= this.segmentBytes) {
          await this.fd!.close();
          this.segment++;
          await this.openSegment();
          this.dropIfDone(seg);
        }
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
  }

  release(ticket: SpoolTicket): void {
    const n = this.unreleased.get(ticket);
    if (n === undefined) return;
    this.unreleased.set(ticket, n - 1);
    this.dropIfDone(ticket);
  }

  private dropIfDone(seg: number): void {
    if (seg === this.segment || this.unreleased.get(seg) !== 0) return;
    this.unreleased.delete(seg);
    void unlink(this.file(seg)).catch(() => undefined);
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
      this.unreleased.set(seg, n);
      this.dropIfDone(seg);
    }
    this.previous = [];
    return out;
  }

  async close(): Promise<void> {
    await this.flushing;
    const fd = this.fd;
    this.fd = null;
    await fd?.close();
    if (this.unreleased.get(this.segment) === 0) await unlink(this.file(this.segment)).catch(() => undefined);
  }
}
