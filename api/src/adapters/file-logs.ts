// LogSource for local runs: the run's .nextflow.log and a task's .command.out/.command.err in its work directory.
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { LogRef, LogSource } from '../domain/ports.js';

const MAX_CHUNK = 1 << 20;

export class FileLogSource implements LogSource {
  private file(ref: LogRef): string | null {
    if (ref.kind === 'run') return ref.run.launchDir ? path.join(ref.run.launchDir, '.nextflow.log') : null;
    const dir = ref.task.workdir;
    return typeof dir === 'string' && !dir.includes('://') ? path.join(dir, ref.stream === 'out' ? '.command.out' : '.command.err') : null;
  }

  async read(ref: LogRef, offset: number): Promise<{ text: string; offset: number; exists: boolean }> {
    const f = this.file(ref);
    if (!f) return { text: '', offset, exists: false };
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(f, 'r');
    } catch {
      return { text: '', offset, exists: false };
    }
    try {
      const { size } = await fh.stat();
      // A log that shrank was rotated or truncated: start again from its beginning.
      const from = offset > size ? 0 : offset;
      const n = Math.min(MAX_CHUNK, size - from);
      if (n <= 0) return { text: '', offset: from, exists: true };
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, from);
      // Stop at the last complete UTF-8 character so a multi-byte sequence is never split between reads.
      let end = bytesRead;
      let lead = end - 1;
      while (lead >= 0 && lead >= end - 4 && (buf[lead]! & 0xc0) === 0x80) lead--;
      if (lead >= 0 && buf[lead]! >= 0xc0) {
        const need = buf[lead]! >= 0xf0 ? 4 : buf[lead]! >= 0xe0 ? 3 : 2;
        if (end - lead < need) end = lead;
      }
      return { text: buf.subarray(0, end).toString('utf8'), offset: from + end, exists: true };
    } finally {
      await fh.close();
    }
  }
}
