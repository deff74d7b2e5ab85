// A run's expression files as the workflow writes them (workflows/bin/expression_file.py) on a seeded sparse matrix,
// with a cells.arrow of the same cells and, for a few genes, their values taken from the matrix itself.
import path from 'node:path';
import { python } from '../workflow/nf.js';
import { repoRoot } from './paths.js';

export const EXPRESSION_CELLS = 20_000;
export const EXPRESSION_GENES = 400;

export interface ExpressionFiles {
  genes: string[];
  /** For a few genes: the expressing cells and their values, from the matrix itself. */
  truth: Record<string, { cells: number[]; values: number[] }>;
}

/** The workflow's writer on a seeded matrix (a few genes with mixed-case names), plus a cells.arrow of the same cells. */
export async function makeExpressionFiles(dir: string): Promise<ExpressionFiles> {
  return python<ExpressionFiles>(
    `import json, sys
sys.path.insert(0, sys.argv[2])
import numpy as np, pyarrow as pa, scipy.sparse as sp
from expression_file import write_expression
rng = np.random.default_rng(7)
n, g = ${EXPRESSION_CELLS}, ${EXPRESSION_GENES}
x = sp.random(n, g, density=0.05, format="csr", random_state=rng, dtype=np.float32)
x.data = np.log1p(x.data * 40).astype(np.float32)
x = sp.hstack([x, sp.csr_matrix(np.ones((n, 1), dtype=np.float32)), sp.csr_matrix((n, 1), dtype=np.float32)]).tocsr()
genes = [f"GENE{i:04d}" for i in range(g - 3)] + ["Cd3e", "CD3D", "cd8a", "ALL", "NONE"]
write_expression(x, genes, sys.argv[1] + "/expression.arrow", sys.argv[1] + "/genes.arrow")
cells = pa.table({"barcode": [f"BC{i}" for i in range(n)], "sample": pa.array(["S1"] * n).dictionary_encode(),
                  "umap_x": pa.array(rng.random(n, dtype=np.float32)), "umap_y": pa.array(rng.random(n, dtype=np.float32))})
with pa.OSFile(sys.argv[1] + "/cells.arrow", "wb") as s, pa.ipc.new_file(s, cells.schema) as w:
    w.write_table(cells)
csc = x.tocsc()
truth = {}
for name in ["GENE0000", "Cd3e", "ALL", "NONE"]:
    j = genes.index(name)
    col = csc[:, j]
    truth[name] = {"cells": col.indices.tolist(), "values": col.data.tolist()}
print(json.dumps({"genes": genes, "truth": truth}))`,
    [dir, path.join(repoRoot, 'workflows/bin')],
  );
}
