// Follows a trace file that Nextflow is still writing: each call hands back only the whole lines appended since the
// last one, behind the header line, so a long run's trace is read once in total instead of once per tick.
import type { ResultStore } from './ports.js';

const NL = 10;

export class TraceFollower {
  private offset = 0;
  private header: Buffer | null = null;

  constructor(
    private readonly files: Pick<ResultStore, 'size' | 'stream'>,
    readonly uri: string,
  ) {}

  /** Header plus the new whole lines, or null when no new row is complete yet. */
  async next(): Promise<Buffer | null> {
    const size = await this.files.size(this.uri);
    if (size === null) return null;
    // A trace that shrank was replaced (a new attempt at the same path): read it again from the start.
    if (size < this.offset) {
      this.offset = 0;
      this.header = null;
    }
    if (size === this.offset) return null;
    const chunks: Buffer[] = [];
    for await (const c of this.files.stream(this.uri, this.offset)) chunks.push(c);
    const buf = Buffer.concat(chunks);
    // The last line may still be being written: keep it for the next call.
    const end = buf.lastIndexOf(NL);
    if (end < 0) return null;
    let lines = buf.subarray(0, end + 1);
    this.offset += end + 1;
    if (!this.header) {
      const nl = lines.indexOf(NL);
      this.header = Buffer.from(lines.subarray(0, nl + 1));
      lines = lines.subarray(nl + 1);
    }
    return lines.length ? Buffer.concat([this.header, lines]) : null;
  }
}
