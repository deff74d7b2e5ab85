// Column access for Arrow tables without per-row object creation (a million cells must stay cheap).
import { DataType, type Table, type Vector } from 'apache-arrow';

export interface Categorical {
  kind: 'categorical';
  name: string;
  codes: Uint32Array;
  labels: string[];
}

export interface Numeric {
  kind: 'numeric';
  name: string;
  values: Float32Array;
  min: number;
  max: number;
}

export type Column = Categorical | Numeric;

/** Dictionary (or plain utf8) column -> dense codes into one label list, merging per-batch dictionaries. */
export function categorical(v: Vector, name: string): Categorical {
  const codes = new Uint32Array(v.length);
  const labels: string[] = [];
  const index = new Map<string, number>();
  const code = (s: unknown) => {
    const k = s === null || s === undefined ? '(none)' : String(s);
    let c = index.get(k);
    if (c === undefined) {
      c = labels.length;
      labels.push(k);
      index.set(k, c);
    }
    return c;
  };
  let at = 0;
  for (const d of v.data) {
    if (d.dictionary) {
      const dict = d.dictionary;
      const remap = new Uint32Array(dict.length);
      for (let i = 0; i < dict.length; i++) remap[i] = code(dict.get(i));
      const keys = d.values as ArrayLike<number>;
      const nulls = d.nullCount > 0;
      for (let i = 0; i < d.length; i++) {
        codes[at + i] = nulls && !d.getValid(i) ? code(null) : remap[keys[i]!]!;
      }
    } else {
      for (let i = 0; i < d.length; i++) codes[at + i] = code(v.get(at + i));
    }
    at += d.length;
  }
  // Natural order ("2" before "10") so clusters and samples read in order in legends.
  const order = labels.map((l, i) => [l, i] as const).sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }));
  const remap = new Uint32Array(labels.length);
  order.forEach(([, old], neu) => {
    remap[old] = neu;
  });
  for (let i = 0; i < codes.length; i++) codes[i] = remap[codes[i]!]!;
  return { kind: 'categorical', name, codes, labels: order.map(([l]) => l) };
}

export function numeric(v: Vector, name: string): Numeric {
  const arr = v.toArray() as ArrayLike<number | bigint>;
  const values = arr instanceof Float32Array ? arr : Float32Array.from(arr as ArrayLike<number>, Number);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { kind: 'numeric', name, values, min, max };
}

export function column(table: Table, name: string): Column | null {
  const v = table.getChild(name);
  if (!v) return null;
  const t = v.type;
  const isCat = DataType.isDictionary(t) || DataType.isUtf8(t) || DataType.isLargeUtf8(t) || DataType.isBool(t);
  return isCat ? categorical(v, name) : numeric(v, name);
}
