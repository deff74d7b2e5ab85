// ResultStore on the local file system (S3 comes with the AWS adapters).
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ResultStore } from '../domain/ports.js';

export class FsResultStore implements ResultStore {
  join(base: string, relative: string): string {
    return path.join(base, relative);
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.size(uri)) !== null;
  }

  async size(uri: string): Promise<number | null> {
    try {
      const s = await stat(uri);
      return s.isFile() ? s.size : null;
    } catch {
      return null;
    }
  }

  read(uri: string): Promise<Buffer> {
    return readFile(uri);
  }

  stream(uri: string, start = 0): AsyncIterable<Buffer> {
    return createReadStream(uri, { start });
  }

  async readRange(uri: string, start: number, length: number): Promise<Buffer> {
    const f = await open(uri, 'r');
    try {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await f.read(buf, got, length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await f.close();
    }
  }
}
