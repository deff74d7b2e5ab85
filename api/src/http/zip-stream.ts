// A zip archive streamed as it is written. Entries are stored, not deflated (the large outputs, h5ad and Arrow, are
// binary already), and their sizes are known, so the archive's length is known before its first byte: a
// Content-Length for the browser's progress bar, and nothing buffered in memory or on disk.
import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';

export interface ZipEntry {
  name: string;
  size: number;
  /** Opened only when the archive reaches the entry, so one file is open at a time. */
  bytes: () => AsyncIterable<Buffer>;
}

export function zipStream(entries: ZipEntry[], mtime: Date): Promise<{ size: number; stream: Readable }> {
  const zip = new ZipFile();
  for (const e of entries)
    zip.addReadStreamLazy(e.name, { size: e.size, compress: false, mtime }, (cb) => cb(null, Readable.from(e.bytes())));
  const stream = zip.outputStream as Readable;
  // A file that fails mid-archive (or differs from its size) ends the response instead of sending a corrupt zip.
  zip.on('error', (err: Error) => stream.destroy(err));
  return new Promise((resolve) => zip.end(undefined, (size?: number) => resolve({ size: size ?? -1, stream })));
}
