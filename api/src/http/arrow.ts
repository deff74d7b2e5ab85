// Columns -> Arrow IPC stream, typed as the per-cell contract says (dictionary-encoded strings, 32-bit numbers).
import {
  Bool,
  type DataType,
  Dictionary,
  Float32,
  Float64,
  Int32,
  Table,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { CellColumns } from '../domain/ports.js';

const CELL_TYPES: Record<string, () => DataType> = {
  barcode: () => new Utf8(),
  sample: () => new Dictionary(new Utf8(), new Int32()),
  batch: () => new Dictionary(new Utf8(), new Int32()),
  leiden: () => new Dictionary(new Utf8(), new Int32()),
  n_genes: () => new Int32(),
  total_counts: () => new Float32(),
  pct_counts_mt: () => new Float32(),
  doublet_score: () => new Float32(),
  umap_x: () => new Float32(),
  umap_y: () => new Float32(),
  rank: () => new Int32(),
  umi_count: () => new Int32(),
  is_cell: () => new Bool(),
};

/** Extra columns: numbers stay numbers, booleans booleans, anything else becomes a dictionary of strings. */
function inferType(values: ArrayLike<unknown>): DataType {
  let numbers = true;
  let bools = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number') numbers = false;
    if (typeof v !== 'boolean') bools = false;
  }
  if (numbers) return new Float64();
  if (bools) return new Bool();
  return new Dictionary(new Utf8(), new Int32());
}

export function columnsToArrowStream(cols: CellColumns): Uint8Array {
  const vectors: Record<string, Vector> = {};
  for (const [name, values] of Object.entries(cols)) {
    const type = CELL_TYPES[name]?.() ?? inferType(values);
    const arr = Array.from(values, (v) => (v === undefined ? null : type instanceof Dictionary && v !== null ? String(v) : v));
    vectors[name] = vectorFromArray(arr as never[], type) as Vector;
  }
  return tableToIPC(new Table(vectors), 'stream');
}
