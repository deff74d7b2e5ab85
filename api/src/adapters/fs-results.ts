// ResultStore on the local file system (S3 comes with the AWS adapters).
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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
}
