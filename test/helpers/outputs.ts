// A run's outdir with the given files and a manifest.json listing them (sizes, checksums), as the workflow writes it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface WrittenOutput {
  path: string;
  kind: string;
  sample: string | null;
  size: number;
  sha256: string;
  bytes: Buffer;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A small mixed set: nested per-sample files, a multi-chunk binary (several 64 KiB reads), an empty file. */
export function sampleOutputs(): Record<string, { kind: string; sample: string | null; bytes: Buffer }> {
  return {
    'count/pbmc1/metrics_summary.csv': { kind: 'metrics', sample: 'pbmc1', bytes: Buffer.from('Estimated Number of Cells,250\n') },
    'count/pbmc2/matrix.mtx': {
      kind: 'matrix',
      sample: 'pbmc2',
      bytes: Buffer.from('%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 7\n'),
    },
    'integrate/integrated.h5ad': { kind: 'h5ad', sample: null, bytes: randomBytes(300_000) },
    'qc/report.html': { kind: 'report', sample: null, bytes: Buffer.from('<script>alert(1)</script>') },
    'qc/empty.txt': { kind: 'log', sample: null, bytes: Buffer.alloc(0) },
  };
}

/** `extra`: further manifest fields (an integration block). */
export async function writeOutdir(outdir: string, files = sampleOutputs(), extra: Record<string, unknown> = {}): Promise<WrittenOutput[]> {
  const outputs: WrittenOutput[] = [];
  for (const [rel, f] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(outdir, rel)), { recursive: true });
    await writeFile(path.join(outdir, rel), f.bytes);
    outputs.push({ path: rel, kind: f.kind, sample: f.sample, size: f.bytes.length, sha256: sha256(f.bytes), bytes: f.bytes });
  }
  const manifest = {
    schema_version: '1.0',
    workflow: { name: 'scrna-platform', version: '0.1.0' },
    params: {},
    samples: [{ sample: 'pbmc1' }, { sample: 'pbmc2' }],
    outputs: outputs.map(({ bytes: _, ...o }) => o),
    ...extra,
  };
  await writeFile(path.join(outdir, 'manifest.json'), JSON.stringify(manifest));
  return outputs.sort((a, b) => (a.path < b.path ? -1 : 1));
}
