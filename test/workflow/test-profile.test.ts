// `nextflow run . -profile test` (exactly what the platform launches) on the seeded synthetic data: cell calling,
// UMI counts and clusters against the generator's truth, integration quality, and the manifest contract.
import { access } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { nextflow, pearson, python, readJson, readText, schemaPath, schemaValidator, sha256, umisPerBarcode } from './nf.js';

interface Manifest {
  workflow: { counter: string; profile: string };
  samples: {
    sample: string;
    chemistry: string;
    registration: { lanes: number; read_pairs: number };
    metrics: Record<string, number>;
    cells_after_qc: number;
    qc_thresholds: Record<string, number>;
    doublets: { method: string; threshold: number; threshold_source: string; reason: string | null; predicted_doublets: number };
  }[];
  params: Record<string, unknown>;
  integration: {
    n_cells: number;
    label_key: string;
    markers?: { key: string; method: string; clusters: { cluster: string; genes: { gene: string }[] }[] };
    metrics: Record<string, { before: number; after: number }>;
    leiden_resolution: number;
    clusterings: { resolution: number; key: string; n_clusters: number; metrics: Record<string, { before: number; after: number }> }[];
  };
  methods: Record<string, { method: string; parameters: Record<string, unknown>; reference: string }>;
  outputs: { path: string; kind: string; sample: string | null; size: number; sha256: string }[];
}

const nf = await nextflow(['-profile', 'test'], 'nf-test-profile-');
t.teardown(nf.cleanup);
const res = (...p: string[]) => path.join(nf.outdir, ...p);

const truthRows = (await readText(res('testdata/truth.csv')).catch(() => '')).trim().split('\n').slice(1);
const truth = truthRows.map((l) => {
  const [sample = '', batch = '', barcode = '', isCell = '', cellType = '', umis = ''] = l.split(',');
  return { sample, batch, barcode, isCell: isCell === 'true', cellType, umis: Number(umis) };
});

const manifest = await readJson<Manifest>(res('manifest.json')).catch(() => null);

t.test('called cells match the truth (precision and recall >= 0.95 per sample)', async (t) => {
  for (const sample of ['SYN1', 'SYN2']) {
    const called = new Set((await readText(res('count', sample, 'filtered/barcodes.tsv.gz'))).trim().split('\n'));
    const real = new Set(truth.filter((r) => r.sample === sample && r.isCell).map((r) => r.barcode));
    const tp = [...called].filter((b) => real.has(b)).length;
    t.ok(real.size >= 250, `${sample}: ${real.size} true cells`);
    t.ok(tp / called.size >= 0.95, `${sample} precision ${tp}/${called.size}`);
    t.ok(tp / real.size >= 0.95, `${sample} recall ${tp}/${real.size}`);
  }
});

t.test('per-cell UMI counts correlate with the true molecule counts (r >= 0.95)', async (t) => {
  for (const sample of ['SYN1', 'SYN2']) {
    const umis = await umisPerBarcode(res('count', sample, 'filtered'));
    const pairs = truth.filter((r) => r.sample === sample && r.isCell && umis.has(r.barcode));
    const r = pearson(
      pairs.map((p) => p.umis),
      pairs.map((p) => umis.get(p.barcode) ?? 0),
    );
    t.ok(r >= 0.95, `${sample}: r = ${r.toFixed(4)} over ${pairs.length} cells`);
  }
});

// Every await happens before the first subtest: tap ends the root test once it goes idle.
t.test('the test profile runs to completion with no extra arguments', async (t) => {
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  t.ok(nf.seconds < 600, `took ${nf.seconds}s`);
});

t.test('Python steps size their thread pools to the CPUs the task asked for', async (t) => {
  const [head = '', ...rows] = (await readText(res('pipeline_info/trace.txt'))).trim().split('\n');
  const col = head.split('\t');
  const tasks = rows
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [col[i], v])) as Record<string, string>)
    .filter((r) => /SCANPY_(QC|INTEGRATE)/.test(r.process ?? ''));
  t.same([...new Set(tasks.map((r) => r.process?.split(':').at(-1)))].sort(), ['SCANPY_INTEGRATE', 'SCANPY_QC']);
  for (const r of tasks) {
    const script = await readText(path.join(r.workdir ?? '', '.command.sh'));
    for (const v of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS'])
      t.match(script, new RegExp(`^\\s*export ${v}=${r.cpus}$`, 'm'), `${r.name}: ${v}=${r.cpus}`);
  }
});

t.test('Leiden clusters recover the cell types and Harmony mixes the batches', async (t) => {
  t.ok(manifest);
  const m = manifest?.integration.metrics;
  t.equal(manifest?.integration.label_key, 'cell_type');
  t.ok((m?.ari?.after ?? 0) >= 0.9, `ARI after Harmony ${m?.ari?.after}`);
  t.ok((m?.ilisi?.after ?? 0) > (m?.ilisi?.before ?? 1), `iLISI ${m?.ilisi?.before} -> ${m?.ilisi?.after}`);
  t.ok(
    (m?.clisi?.after ?? 0) >= 0.98 || (m?.ari?.after ?? 0) >= (m?.ari?.before ?? 1),
    `cLISI ${m?.clisi?.after}, ARI ${m?.ari?.before} -> ${m?.ari?.after}`,
  );
  // The per-cell file says the same: recompute ARI from its columns.
  const ari = await python<{ ari: number; n: number; cols: Record<string, string> }>(
    `import json, sys, pyarrow as pa
from sklearn.metrics import adjusted_rand_score
t = pa.ipc.open_file(sys.argv[1]).read_all()
print(json.dumps({"ari": adjusted_rand_score(t["cell_type"].to_pylist(), t["leiden"].to_pylist()), "n": t.num_rows,
  "cols": {f.name: str(f.type) for f in t.schema}}))`,
    [res('integration/cells.arrow')],
  );
  t.ok(ari.ari >= 0.9, `ARI from cells.arrow ${ari.ari}`);
  t.match(ari.cols, {
    barcode: 'string',
    sample: 'dictionary<values=string, indices=int32, ordered=0>',
    batch: 'dictionary<values=string, indices=int32, ordered=0>',
    n_genes: 'int32',
    total_counts: 'float',
    pct_counts_mt: 'float',
    doublet_score: 'float',
    leiden: 'dictionary<values=string, indices=int32, ordered=0>',
    umap_x: 'float',
    umap_y: 'float',
  });
  t.equal(
    ari.n,
    manifest?.samples.reduce((a, s) => a + s.cells_after_qc, 0),
    'one row per cell kept after QC',
  );
});

t.test('Leiden at each resolution: side by side in cells.arrow and the h5ad, metrics for each, leiden = the default', async (t) => {
  const g = manifest?.integration;
  t.ok(g);
  if (!g || !manifest) return;
  const asked = String(manifest.params.leiden_resolutions).split(',').map(Number);
  const expected = [...new Set([...asked, Number(manifest.params.leiden_resolution)])].sort((a, b) => a - b);
  t.same(
    g.clusterings.map((c) => c.resolution),
    expected,
    'one clustering per resolution',
  );
  t.equal(g.leiden_resolution, manifest.params.leiden_resolution);
  const files = await python<{ arrow: Record<string, number[]>; h5ad: Record<string, number[]>; same_as_default: boolean }>(
    `import json, sys, numpy as np, pyarrow as pa, anndata as ad
from sklearn.metrics import adjusted_rand_score as ari
keys, default = json.loads(sys.argv[3]), sys.argv[4]
t = pa.ipc.open_file(sys.argv[1]).read_all()
obs = ad.read_h5ad(sys.argv[2], backed="r").obs
print(json.dumps({"arrow": {k: [len(set(t[k].to_pylist())), ari(t["cell_type"].to_pylist(), t[k].to_pylist())] for k in keys},
  "h5ad": {k: [int(obs[k].nunique()), ari(obs["cell_type"].astype(str), obs[k].astype(str))] for k in keys},
  "same_as_default": t["leiden"].to_pylist() == t[default].to_pylist()}))`,
    [
      res('integration/cells.arrow'),
      res('integration/integrated.h5ad'),
      JSON.stringify(g.clusterings.map((c) => c.key)),
      g.clusterings.find((c) => c.resolution === g.leiden_resolution)?.key ?? '',
    ],
  );
  t.ok(files.same_as_default, 'cells column leiden is the default resolution');
  for (const c of g.clusterings) {
    t.equal(files.arrow[c.key]?.[0], c.n_clusters, `${c.key}: ${c.n_clusters} clusters in cells.arrow`);
    t.equal(files.h5ad[c.key]?.[0], c.n_clusters, `${c.key} in the h5ad`);
    t.ok(
      Math.abs((files.arrow[c.key]?.[1] ?? -1) - (c.metrics.ari?.after ?? 2)) < 1e-9,
      `${c.key}: ARI ${c.metrics.ari?.after} as reported`,
    );
    for (const k of ['ilisi', 'clisi', 'ari', 'nmi']) t.type(c.metrics[k]?.after, 'number', `${c.key} ${k}`);
  }
  const n = g.clusterings.map((c) => c.n_clusters);
  t.ok(
    n.every((v, i) => i === 0 || v >= (n[i - 1] ?? 0)),
    `more clusters at higher resolution (${n.join(', ')})`,
  );
  t.same(
    g.clusterings.find((c) => c.resolution === g.leiden_resolution)?.metrics,
    g.metrics,
    'the top-level metrics are the default resolution',
  );
});

t.test('methods: seurat_v3 HVG, scrublet automatic threshold, top-20-genes QC bound, recorded per sample and run', async (t) => {
  if (!manifest) return t.fail('no manifest');
  t.same(Object.keys(manifest.methods), [
    'count',
    'qc',
    'doublets',
    'normalisation',
    'hvg',
    'pca',
    'integration',
    'neighbours',
    'umap',
    'clustering',
    'metrics',
  ]);
  t.match(manifest.methods.count?.method, /^STARsolo/);
  t.equal(manifest.methods.hvg?.parameters.hvg_flavor, 'seurat_v3');
  for (const [step, m] of Object.entries(manifest.methods)) {
    t.match(m.reference, /(doi:|arXiv:)/, `${step} cites a reference`);
    for (const [k, v] of Object.entries(m.parameters)) t.same(v, manifest.params[k] ?? null, `${step}.${k} is the run's value`);
  }
  for (const s of manifest.samples) {
    // ~300 cells per sample, above the 200 the automatic threshold needs
    t.match(s.doublets, { method: 'scrublet', threshold_source: 'automatic', reason: null }, `${s.sample} ${JSON.stringify(s.doublets)}`);
    t.ok(s.doublets.threshold > 0 && s.doublets.threshold < 1);
    t.ok((s.qc_thresholds.min_pct_counts_top20 ?? 100) < (s.qc_thresholds.max_pct_counts_top20 ?? 0), `${s.sample} top-20-genes bounds`);
  }
  const flavor = await python<string>(
    `import json, sys, anndata as ad
print(json.dumps(ad.read_h5ad(sys.argv[1], backed="r").uns["hvg"]["flavor"]))`,
    [res('integration/integrated.h5ad')],
  );
  t.equal(flavor, 'seurat_v3', 'the h5ad records the HVG flavour scanpy ran');
});

t.test('the manifest validates against its schema and lists every output with its checksum', async (t) => {
  t.ok(manifest);
  if (!manifest) return;
  const validate = schemaValidator().compile(await readJson(schemaPath('assets/manifest.schema.json')));
  t.ok(validate(manifest), JSON.stringify(validate.errors));
  t.equal(manifest.workflow.counter, 'starsolo');
  t.equal(manifest.workflow.profile, 'test');
  t.same(
    manifest.samples.map((s) => [s.sample, s.chemistry, s.registration.lanes]),
    [
      ['SYN1', '10xv2', 2],
      ['SYN2', '10xv2', 1],
    ],
  );
  for (const s of manifest.samples) {
    for (const k of [
      'Estimated Number of Cells',
      'Valid Barcodes',
      'Sequencing Saturation',
      'Reads Mapped Confidently to Transcriptome',
      'Fraction Reads in Cells',
    ]) {
      t.type(s.metrics[k], 'number', `${s.sample} ${k}`);
    }
    const valid = s.metrics['Valid Barcodes'] ?? 0;
    t.ok(valid > 0.9 && valid <= 1, 'percentages are fractions');
  }
  const kinds = new Set(manifest.outputs.map((o) => o.kind));
  for (const k of ['h5ad', 'cells', 'barcode_ranks', 'metrics', 'matrix_raw', 'matrix_filtered', 'registration'])
    t.ok(kinds.has(k), `lists ${k}`);
  for (const o of manifest.outputs) {
    await access(res(o.path));
    t.equal(await sha256(res(o.path)), o.sha256, o.path);
  }
});

t.test('barcode ranks cover every sample, log-downsampled, with the called cells flagged', async (t) => {
  const r = await python<Record<string, { n: number; cells: number; max_rank: number; monotone: boolean }>>(
    `import json, sys, pyarrow as pa
t = pa.ipc.open_file(sys.argv[1]).read_all().to_pandas()
print(json.dumps({s: {"n": len(g), "cells": int(g.is_cell.sum()), "max_rank": int(g["rank"].max()),
  "monotone": bool((g.sort_values("rank").umi_count.diff().dropna() <= 0).all())} for s, g in t.groupby("sample", observed=True)}))`,
    [res('integration/barcode_ranks.arrow')],
  );
  t.same(Object.keys(r).sort(), ['SYN1', 'SYN2']);
  for (const v of Object.values(r)) {
    t.ok(v.n <= 2000 && v.max_rank > 1000, JSON.stringify(v));
    t.ok(v.monotone, 'UMI counts fall with rank');
    t.ok(v.cells > 100);
  }
});

t.test("each cluster's top markers are the generator's markers of the cell type it matches (ARI-matched ids)", async (t) => {
  const markers = manifest?.integration.markers;
  t.ok(markers, 'the manifest carries markers');
  if (!markers) return;
  t.match(markers, { key: 'leiden', method: 'wilcoxon' });
  // Clusters and cell types paired by the assignment that maximises shared cells (the ARI's contingency table).
  const m = await python<{ pairs: Record<string, string>; markers: Record<string, string[]> }>(
    `import json, sys, numpy as np, pandas as pd, pyarrow as pa
from scipy.optimize import linear_sum_assignment
t = pa.ipc.open_file(sys.argv[1]).read_all()
ct = pd.crosstab(pd.Series(t["leiden"].to_pylist(), name="c"), pd.Series(t["cell_type"].to_pylist(), name="t"))
rows, cols = linear_sum_assignment(-ct.to_numpy())
gen = pd.read_csv(sys.argv[2])
print(json.dumps({"pairs": {str(ct.index[r]): str(ct.columns[c]) for r, c in zip(rows, cols)},
  "markers": {k: sorted(g.gene_name) for k, g in gen.groupby("cell_type")}}))`,
    [res('integration/cells.arrow'), res('testdata/markers.csv')],
  );
  t.equal(Object.keys(m.markers).length, 4, 'the generator made 4 cell types');
  t.equal(new Set(Object.values(m.pairs)).size, 4, 'every cell type matches a cluster');
  for (const [cluster, type] of Object.entries(m.pairs)) {
    const want = m.markers[type] ?? [];
    const got = markers.clusters.find((c) => c.cluster === cluster)?.genes.map((g) => g.gene) ?? [];
    t.same(got.slice(0, want.length).sort(), want, `cluster ${cluster} (${type}): its top ${want.length} are the generator's markers`);
  }
});

t.test('expression.arrow holds every gene of the h5ad, one record batch each, in cells.arrow order', async (t) => {
  const r = await python<{ batches: number; genes: number; same_names: boolean; worst: number; same_cells: boolean; rows: number }>(
    `import json, sys, numpy as np, pyarrow as pa, anndata as ad, scipy.sparse as sp
a = ad.read_h5ad(sys.argv[1])
f = pa.ipc.open_file(sys.argv[2])
genes = pa.ipc.open_file(sys.argv[3]).read_all()
cells = pa.ipc.open_file(sys.argv[4]).read_all()
x = sp.csc_matrix(a.X)
worst = 0.0
for g in range(a.n_vars):
    b = f.get_batch(g)
    dense = np.zeros(a.n_obs, dtype=np.float32)
    dense[b["cell"].to_numpy()] = b["value"].to_numpy()
    worst = max(worst, float(np.abs(dense - x[:, g].toarray().ravel()).max()))
print(json.dumps({"batches": f.num_record_batches, "genes": a.n_vars, "same_names": genes["gene"].to_pylist() == list(a.var_names),
  "worst": worst, "rows": int(f.schema.metadata[b"n_cells"]),
  "same_cells": [s + ":" + b for s, b in zip(cells["sample"].to_pylist(), cells["barcode"].to_pylist())] == list(a.obs["sample"].astype(str) + ":" + a.obs["barcode"].astype(str))}))`,
    [
      res('integration/integrated.h5ad'),
      res('integration/expression.arrow'),
      res('integration/genes.arrow'),
      res('integration/cells.arrow'),
    ],
  );
  t.equal(r.batches, r.genes, `${r.genes} genes, one record batch each`);
  t.ok(r.same_names, 'genes.arrow names the batches in the order of the h5ad');
  t.equal(r.worst, 0, 'values equal the log-normalised matrix');
  t.ok(r.same_cells, 'cells in the order of cells.arrow');
  t.equal(r.rows, manifest?.integration.n_cells, 'n_cells in its metadata');
});
