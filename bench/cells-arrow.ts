// The API's per-cell Arrow encoder at 1,000,000 cells (umap_x, umap_y, leiden with 20 clusters): bytes per cell and
// encode time, beside the same columns with 4-byte dictionary indices (the encoding before 1-byte indices), in the
// same run. Writes bench/cells-arrow.results.json. Run: npx tsx bench/cells-arrow.ts [cells]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dictionary, Float32, Int32, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { columnsToArrowStream } from '../api/src/http/arrow.js';
import { repoRoot } from '../test/helpers/paths.js';

const N = Number(process.argv[2] ?? 1_000_000);
const GOAL_BYTES_PER_CELL = 9;
const x = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 10);
const y = Float32Array.from({ length: N }, (_, i) => Math.cos(i * 1.3) * 10);
const leiden = Array.from({ length: N }, (_, i) => String(i % 20));

// Built as the encoder builds its vectors (from plain arrays, strings made strings), only the index type differs.
const baseline = () =>
  tableToIPC(
    new Table({
      umap_x: vectorFromArray(Array.from(x), new Float32()),
      umap_y: vectorFromArray(Array.from(y), new Float32()),
      leiden: vectorFromArray(Array.from(leiden, String), new Dictionary(new Utf8(), new Int32())),
    }),
    'stream',
  );
const encoder = () => columnsToArrowStream({ umap_x: x, umap_y: y, leiden });

function measure(f: () => Uint8Array) {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    bytes = f().byteLength;
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { bytes, bytesPerCell: Math.round((bytes / N) * 1000) / 1000, encodeMsMedian: Math.round(ms[2]! * 10) / 10 };
}

const result = {
  date: new Date().toISOString(),
  cells: N,
  columns: 'umap_x float32, umap_y float32, leiden (20 clusters)',
  machine: { cpus: os.cpus().length, loadAverage1m: Math.round(os.loadavg()[0]! * 10) / 10 },
  apiEncoder: measure(encoder),
  baselineInt32Indices: measure(baseline),
  goalBytesPerCell: GOAL_BYTES_PER_CELL,
};
console.log(JSON.stringify(result, null, 2));
writeFileSync(path.join(repoRoot, 'bench/cells-arrow.results.json'), `${JSON.stringify(result, null, 2)}\n`);
