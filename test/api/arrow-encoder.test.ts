// The per-cell Arrow encoder: dictionary indices as narrow as the categories allow (1 byte up to 256), values intact,
// and a million cells' embedding with clusters in 9 bytes per cell.
import { DataType, tableFromIPC } from 'apache-arrow';
import t from 'tap';
import { columnsToArrowStream } from '../../api/src/http/arrow.js';

const labels = (n: number, k: number) => Array.from({ length: n }, (_, i) => `c${i % k}`);

t.test('dictionary indices: 1 byte up to 256 categories, 2 bytes above; values read back', async (t) => {
  for (const [k, width, signed] of [
    [3, 8, true],
    [128, 8, true],
    [129, 8, false],
    [256, 8, false],
    [257, 16, true],
  ] as const) {
    const values = labels(1000, k);
    values[5] = null as never;
    const table = tableFromIPC(columnsToArrowStream({ leiden: values, extra_label: values }));
    for (const name of ['leiden', 'extra_label']) {
      const type = table.getChild(name)!.type;
      t.ok(DataType.isDictionary(type), `${name}: a dictionary`);
      t.match(
        type.indices,
        { bitWidth: width, isSigned: signed },
        `${k} categories: ${width}-bit ${signed ? 'signed' : 'unsigned'} indices`,
      );
      const back = Array.from(table.getChild(name)!.toArray() as ArrayLike<unknown>);
      t.same(back, values, `${name}: every value, and the null, read back`);
    }
  }
});

t.test('1,000,000 cells of umap_x, umap_y and 20 clusters: 9 bytes per cell', async (t) => {
  const n = 1_000_000;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const body = columnsToArrowStream({ umap_x: x, umap_y: x, leiden: labels(n, 20) });
  t.ok(body.length <= 9 * n + 4096, `${(body.length / n).toFixed(4)} bytes per cell`);
});
