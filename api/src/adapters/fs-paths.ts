// PathResolver on the local file system: realpath(3), telling "nothing there" apart from "there but unfollowable".
import { lstat, realpath } from 'node:fs/promises';
import type { PathResolver, RealPath } from '../domain/ports.js';

const absent = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

export class FsPathResolver implements PathResolver {
  async realpath(p: string): Promise<RealPath> {
    try {
      return { real: await realpath(p) };
    } catch (e) {
      if (!absent(e)) return 'broken';
    }
    try {
      // realpath said ENOENT, yet the entry itself is there: a link to nowhere.
      await lstat(p);
      return 'broken';
    } catch (e) {
      return absent(e) ? 'missing' : 'broken';
    }
  }
}
