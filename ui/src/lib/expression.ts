// One gene's expression as GET /runs/:id/expression sends it (the format is in the API's expression-codec.ts and the
// OpenAPI document): header, one byte per expressing cell, then the gaps between expressing cells as LEB128 varints.
import type { Numeric } from './arrow.js';

const HEADER = 16;

/** The encoded gene -> a numeric column over every cell (0 where it is not expressed), ready to colour by. */
export function decodeExpression(buf: ArrayBuffer, gene: string): Numeric {
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  if (bytes.length < HEADER || String.fromCharCode(...bytes.subarray(0, 4)) !== 'SCX1')
    throw new Error(`expression of ${gene}: not an SCX1 body`);
  const cells = view.getUint32(4, true);
  const n = view.getUint32(8, true);
  const scale = view.getFloat32(12, true);
  const values = new Float32Array(cells);
  const k = scale / 255;
  let at = HEADER + n;
  let cell = -1;
  for (let i = 0; i < n; i++) {
    let gap = 0;
    let shift = 0;
    let b: number;
    do {
      if (at >= bytes.length) throw new Error(`expression of ${gene}: truncated`);
      b = bytes[at++]!;
      gap += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    cell += gap + 1;
    if (cell >= cells) throw new Error(`expression of ${gene}: cell ${cell} beyond ${cells}`);
    values[cell] = bytes[HEADER + i]! * k;
  }
  return { kind: 'numeric', name: gene, values, min: 0, max: scale };
}
