// Which inputs a run may name: local paths that resolve (after symlinks) inside the operator's data roots, and
// s3:// URIs under the allowed buckets. Everything else is refused before a run exists, so the pipeline never
// probes (and its errors never describe) a place the caller may not read.
import path from 'node:path';
import type { PathResolver } from './ports.js';

const posix = path.posix;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
export const CONTROL = /[\x00-\x1f\x7f]/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Whether `p` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

interface S3Prefix {
  bucket: string;
  prefix: string;
}

function parseS3(uri: string): S3Prefix {
  const rest = uri.replace(/^s3:\/\//, '');
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: rest, prefix: '' };
  return { bucket: rest.slice(0, slash), prefix: rest.slice(slash + 1).replace(/\/+$/, '') };
}

export class DataRoots {
  private readonly buckets: S3Prefix[];

  constructor(
    private readonly resolver: PathResolver,
    private readonly roots: string[],
    s3: string[],
    /** Never inputs, even inside a root (the embedded database under the data directory). */
    private readonly excluded: string[] = [],
  ) {
    this.buckets = s3.map(parseS3);
  }

  /** Why `value` may not be an input, or null when it may. */
  async refusal(value: string): Promise<string | null> {
    // `..` is refused outright: Nextflow normalises paths lexically, the kernel after symlinks, and both must agree.
    if (value.split('/').includes('..')) return "must not contain '..'";
    // A path never holds a line break or control character; refuse before resolving anything.
    if (CONTROL.test(value)) return 'must not contain control characters';
    if (value.startsWith('s3://')) {
      if (!this.s3Allowed(value)) return this.s3Refusal();
      // Inside the allowed buckets a missing object is worth saying before a head job finds out.
      return (await this.resolver.s3Exists?.(value)) === false ? `names no S3 object: ${value}` : null;
    }
    const scheme = SCHEME.exec(value);
    if (scheme) return `must be a local path${this.buckets.length ? ' or an s3:// URI' : ''} (${scheme[1]}: URIs are not accepted)`;
    if (!value.startsWith('/')) return `must be an absolute path inside a data root (${this.roots.join(', ')})`;
    // One answer for every refused local path, whether it exists or not, so the refusal tells nothing about it.
    return (await this.allowedLocal(posix.normalize(value))) ? null : `must be inside a data root (${this.roots.join(', ')})`;
  }

  private async allowedLocal(p: string): Promise<boolean> {
    const roots = await this.realPaths(this.roots);
    // Nothing outside the roots (as written or as resolved) is touched on disk.
    if (!roots.some((r) => isInside(r.written, p) || isInside(r.real, p))) return false;
    const real = await this.resolve(p);
    if (real === null || !roots.some((r) => isInside(r.real, real))) return false;
    return !(await this.realPaths(this.excluded)).some((x) => isInside(x.real, real));
  }

  /** Each existing directory as written (normalised) and as resolved; missing ones are left out. */
  private async realPaths(dirs: string[]): Promise<{ written: string; real: string }[]> {
    const out: { written: string; real: string }[] = [];
    for (const d of dirs) {
      const r = await this.resolver.realpath(d);
      if (typeof r === 'object') out.push({ written: posix.normalize(d), real: r.real });
    }
    return out;
  }

  /** The real path of `p`; a part that does not exist yet is resolved on its nearest existing ancestor. */
  private async resolve(p: string): Promise<string | null> {
    const missing: string[] = [];
    let base = p;
    for (;;) {
      const r = await this.resolver.realpath(base);
      if (r === 'broken') return null;
      if (r !== 'missing') return posix.join(r.real, ...missing);
      if (base === '/') return null;
      missing.unshift(posix.basename(base));
      base = posix.dirname(base);
    }
  }

  private s3Allowed(uri: string): boolean {
    const { bucket, prefix: key } = parseS3(uri);
    return this.buckets.some((b) => b.bucket === bucket && (b.prefix === '' || key === b.prefix || key.startsWith(`${b.prefix}/`)));
  }

  private s3Refusal(): string {
    if (!this.buckets.length) return 'must not be an s3:// URI (no buckets are allowed: SCRNA_S3_BUCKETS)';
    return `must be under an allowed bucket (${this.buckets.map((b) => `s3://${b.bucket}${b.prefix ? `/${b.prefix}` : ''}`).join(', ')})`;
  }
}
