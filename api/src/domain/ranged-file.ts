// A read-only file handle over ResultStore.readRange, for apache-arrow's Arrow IPC file reader: it reads the footer,
// then seeks to the one record batch asked for, so a gene is read without the rest of the file (local or S3).

/** What one handle read: for checks that random access stays random, and for the logs. */
export interface RangeStats {
  requests: number;
  bytes: number;
}

/**
 * Reads are widened to READ_AHEAD bytes and the last range is kept: the reader asks for a message's length, its
 * header and its body in turn, which then cost one request (one S3 GET) instead of three.
 */
const READ_AHEAD = 64 * 1024;

export class RangedFile {
  /** apache-arrow recognises a file handle by a numeric `fd` and `stat()`; nothing here uses the number. */
  readonly fd = -1;
  readonly stats: RangeStats = { requests: 0, bytes: 0 };
  private last: { start: number; bytes: Buffer } | null = null;

  constructor(
    private readonly range: (start: number, length: number) => Promise<Buffer>,
    readonly size: number,
  ) {}

  async stat(): Promise<{ size: number }> {
    return { size: this.size };
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number; buffer: Uint8Array }> {
    const end = Math.min(position + length, this.size);
    if (end <= position) return { bytesRead: 0, buffer };
    let got = this.last;
    if (!got || position < got.start || end > got.start + got.bytes.length) {
      const bytes = await this.range(position, Math.min(this.size - position, Math.max(length, READ_AHEAD)));
      this.stats.requests++;
      this.stats.bytes += bytes.length;
      got = this.last = { start: position, bytes };
    }
    const part = got.bytes.subarray(position - got.start, Math.min(end, got.start + got.bytes.length) - got.start);
    buffer.set(part, offset);
    return { bytesRead: part.length, buffer };
  }

  async close(): Promise<void> {
    this.last = null;
  }
}
