// One gene's expression for every cell of a run, compact enough for a million cells in a browser. Little-endian:
//
//   bytes 0-3   "SCX1"
//   4-7         u32 cells in the run (the rows of GET /runs/:id/cells, same order)
//   8-11        u32 expressing cells (n)
//   12-15       f32 scale: the largest value
//   16..16+n    one byte per expressing cell, 1..255: value = byte / 255 * scale (0 is left for "not expressed")
//   then        n unsigned LEB128 varints: the number of non-expressing cells before each expressing one
//
// With fewer than 2^21 cells a gap takes at most 3 bytes, so a gene costs at most 16 + 4 bytes per expressing cell.

export const EXPRESSION_MAGIC = 'SCX1';
export const EXPRESSION_HEADER_BYTES = 16;
export const EXPRESSION_CONTENT_TYPE = 'application/vnd.scrna.expression';

const varintBytes = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** `cells` ascending row indices below `nCells`, `values` their values (> 0); null when the rows are not like that. */
export function encodeExpression(nCells: number, cells: ArrayLike<number>, values: ArrayLike<number>): Uint8Array | null {
  const n = cells.length;
  let scale = 0;
  let size = EXPRESSION_HEADER_BYTES + n;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const c = cells[i]!;
    if (!(c > prev && c < nCells)) return null;
    size += varintBytes(c - prev - 1);
    prev = c;
    if (values[i]! > scale) scale = values[i]!;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = EXPRESSION_MAGIC.charCodeAt(i);
  view.setUint32(4, nCells, true);
  view.setUint32(8, n, true);
  view.setFloat32(12, scale, true);
  const k = scale > 0 ? 255 / scale : 0;
  let at = EXPRESSION_HEADER_BYTES;
  for (let i = 0; i < n; i++) out[at++] = Math.min(255, Math.max(1, Math.round(values[i]! * k)));
  prev = -1;
  for (let i = 0; i < n; i++) {
    let gap = cells[i]! - prev - 1;
    prev = cells[i]!;
    while (gap >= 0x80) {
      out[at++] = (gap & 0x7f) | 0x80;
      gap >>>= 7;
    }
    out[at++] = gap;
  }
  return out;
}
