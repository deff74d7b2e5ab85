// rank_markers (workflows/bin/cluster_markers.py), the step INTEGRATE records markers with, on small matrices with a
// planted marker, and its degenerate cases: a cluster of one cell, and a single cluster.
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/paths.js';
import { python } from './nf.js';

interface Markers {
  reason: string | null;
  clusters: { cluster: string; n_cells: number; genes: { gene: string; logfoldchange: number | null }[] }[];
}

const r = await python<Record<string, Markers>>(
  `import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad, scanpy as sc
from cluster_markers import rank_markers
rng = np.random.default_rng(3)
def data(labels):
    x = rng.poisson(2.0, (len(labels), 30)).astype(np.float32)
    for k, c in enumerate(sorted(set(labels))):
        x[np.array(labels) == c, k] += 30  # gene k marks cluster k
    a = ad.AnnData(sp.csr_matrix(x), var=pd.DataFrame(index=[f"G{i}" for i in range(30)]))
    a.obs["leiden"] = pd.Categorical(labels)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    return a
print(json.dumps({
  "three": rank_markers(data(["0"] * 40 + ["1"] * 30 + ["2"] * 20), "leiden"),
  "singleton": rank_markers(data(["0"] * 40 + ["1"] * 30 + ["2"]), "leiden"),
  "one_cluster": rank_markers(data(["0"] * 50), "leiden"),
}))`,
  [path.join(repoRoot, 'workflows/bin')],
);

t.test('a planted marker ranks first in its cluster', async (t) => {
  const three = r.three!;
  t.equal(three.reason, null);
  t.same(
    three.clusters.map((c) => [c.cluster, c.n_cells, c.genes[0]?.gene]),
    [
      ['0', 40, 'G0'],
      ['1', 30, 'G1'],
      ['2', 20, 'G2'],
    ],
  );
  t.ok(
    three.clusters.every((c) => c.genes.length === 20 && (c.genes[0]!.logfoldchange ?? 0) > 1),
    'top 20, fold change > 2',
  );
});

t.test('a cluster of one cell is listed without genes; the others are still ranked', async (t) => {
  const s = r.singleton!;
  t.equal(s.reason, null);
  t.same(
    s.clusters.map((c) => [c.cluster, c.n_cells, c.genes.length, c.genes[0]?.gene ?? null]),
    [
      ['0', 40, 20, 'G0'],
      ['1', 30, 20, 'G1'],
      ['2', 1, 0, null],
    ],
  );
});

t.test('a single cluster: nothing to compare, and the reason is recorded', async (t) => {
  t.match(r.one_cluster, { reason: /1 cluster\(s\) with at least 2 cells/, clusters: [] });
});
