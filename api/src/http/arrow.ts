// Columns -> Arrow IPC stream, typed as the per-cell contract says (dictionary-encoded strings with the narrowest index
// that holds their categories, 32-bit numbers).
import {
  Bool,
  type DataType,
  Dictionary,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Table,
  tableToIPC,
  Uint8,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { CellColumns } from '../domain/ports.js';

/** A dictionary of strings indexed by 1 byte up to 256 categories (signed, as Arrow recommends, up to 128), else 2 or 4. */
export function dictionaryFor(values: ArrayLike<unknown>): Dictionary {
  const seen = new Set<unknown>();
  for (let i = 0; i < values.length && seen.size <= 32768; i++)
    if (values[i] !== null && values[i] !== undefined) seen.add(String(values[i]));
  const n = seen.size;
  return new Dictionary(new Utf8(), n <= 128 ? new Int8() : n <= 256 ? new Uint8() : n <= 32768 ? new Int16() : new Int32());
}

const CELL_TYPES: Record<string, (values: ArrayLike<unknown>) => DataType> = {
  barcode: () => new Utf8(),
  sample: dictionaryFor,
  batch: dictionaryFor,
  leiden: dictionaryFor,
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
  return dictionaryFor(values);
}

export function columnsToArrowStream(cols: CellColumns): Uint8Array {
  const vectors: Record<string, Vector> = {};
  for (const [name, values] of Object.entries(cols)) {
    const type = CELL_TYPES[name]?.(values) ?? inferType(values);
    const arr = Array.from(values, (v) => (v === undefined ? null : type instanceof Dictionary && v !== null ? String(v) : v));
    vectors[name] = vectorFromArray(arr as never[], type) as Vector;
  }
  return tableToIPC(new Table(vectors), 'stream');
}
