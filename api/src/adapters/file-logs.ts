// LogSource for local runs: the run's .nextflow.log and a task's .command.out/.command.err in its work directory.
// Only files inside the directories the platform itself made for the run are served: a task's workdir comes from
// events and trace rows that any token holder can send, so it is a hint, not a place to read.
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from '../domain/data-roots.js';
import type { LogRef, LogSource } from '../domain/ports.js';

const MAX_CHUNK = 1 << 20;

const real = (p: string) => realpath(p).catch(() => null);

export class FileLogSource implements LogSource {
  /** The log file's real path, or null when it is not inside the run's launch dir (run log) or work dir (task logs). */
  private async file(ref: LogRef): Promise<string | null> {
    // launchDir is only the platform's own for runs it launched (events may fill it in for others).
    const launchDir = ref.run.source === 'platform' ? ref.run.launchDir : null;
    if (!launchDir) return null;
    let base = launchDir;
    let f = path.join(launchDir, '.nextflow.log');
    if (ref.kind === 'task') {
      const dir = ref.task.workdir;
      if (typeof dir !== 'string' || dir.includes('://')) return null;
      base = path.join(launchDir, 'work');
      f = path.join(dir, ref.stream === 'out' ? '.command.out' : '.command.err');
    }
    const [realBase, realFile] = await Promise.all([real(base), real(f)]);
    return realBase && realFile && isInside(realBase, realFile) ? realFile : null;
  }

  async read(ref: LogRef, offset: number): Promise<{ text: string; offset: number; exists: boolean }> {
    // The resolved path is what is opened, so a link swapped in after the check is not followed out.
    const f = await this.file(ref);
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
