// INTEGRATE from existing count matrices (--input_type matrix): scanpy's real CellRanger outputs give the same
// per-cell QC values as scanpy's own calculate_qc_metrics, and pbmc68k_reduced clusters match bulk_labels.
import path from 'node:path';
import t from 'tap';
import { sharedData } from '../helpers/paths.js';
import { nextflow, python, readJson, schemaPath, schemaValidator, tempSheet } from './nf.js';

const cr3 = path.join(sharedData, 'scanpy_10x/3.0.0');

t.test('QC values on real CellRanger 3 matrices (MTX and h5) equal scanpy calculate_qc_metrics', async (t) => {
  const sheet = await tempSheet(
    `sample,batch,matrix\nmtx,b1,${cr3}/filtered_feature_bc_matrix\nh5,b2,${cr3}/filtered_feature_bc_matrix.h5`,
  );
  t.teardown(sheet.cleanup);
  const nf = await nextflow(['--input_type', 'matrix', '--input', sheet.file, '--n_pcs', '10', '--n_top_genes', '200'], 'nf-matrix-');
  t.teardown(nf.cleanup);
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  const cmp = await python<{ n: number; max_diff: Record<string, number>; kept: Record<string, number> }>(
    `import json, sys, numpy as np, scanpy as sc, pyarrow as pa
cells = pa.ipc.open_file(sys.argv[1]).read_all().to_pandas()
ref = sc.read_10x_mtx(sys.argv[2]); ref.var["mt"] = ref.var_names.str.upper().str.startswith("MT-")
sc.pp.calculate_qc_metrics(ref, qc_vars=["mt"], percent_top=None, log1p=False, inplace=True)
diff = {"n_genes": 0.0, "total_counts": 0.0, "pct_counts_mt": 0.0}; kept = {}
for s, g in cells.groupby("sample", observed=True):
    r = ref.obs.loc[g["barcode"].astype(str)]
    kept[s] = len(g)
    for col, rc in (("n_genes", "n_genes_by_counts"), ("total_counts", "total_counts"), ("pct_counts_mt", "pct_counts_mt")):
        diff[col] = max(diff[col], float(np.abs(g[col].to_numpy(float) - r[rc].to_numpy(float)).max()))
print(json.dumps({"n": len(cells), "max_diff": diff, "kept": kept}))`,
    [path.join(nf.outdir, 'integration/cells.arrow'), path.join(cr3, 'filtered_feature_bc_matrix')],
  );
  t.ok(cmp.n > 1000, `${cmp.n} cells after QC of 2 x 1,107`);
  t.same(Object.keys(cmp.kept).sort(), ['h5', 'mtx']);
  t.equal(cmp.kept.h5, cmp.kept.mtx, 'the h5 and MTX copies of one matrix keep the same cells');
  t.equal(cmp.max_diff.n_genes, 0);
  t.ok((cmp.max_diff.total_counts ?? 1) < 1e-3, `total_counts max diff ${cmp.max_diff.total_counts}`);
  t.ok((cmp.max_diff.pct_counts_mt ?? 1) < 1e-3);
  const manifest = await readJson<{
    workflow: { counter: unknown };
    samples: { registration: unknown; metrics: Record<string, number> }[];
  }>(path.join(nf.outdir, 'manifest.json'));
  const validate = schemaValidator().compile(await readJson(schemaPath('assets/manifest.schema.json')));
  t.ok(validate(manifest), JSON.stringify(validate.errors));
  t.equal(manifest.workflow.counter, null);
  t.equal(manifest.samples[0]?.registration, null);
  t.equal(manifest.samples[0]?.metrics['Estimated Number of Cells'], 1107);
});

t.test('pbmc68k_reduced split into two batches: clusters vs bulk_labels beat the unintegrated baseline', async (t) => {
  const dir = await tempSheet('placeholder');
  t.teardown(dir.cleanup);
  const base = path.dirname(dir.file);
  // Counts from the shipped log-normalised values (raw.X = log1p(counts / total * 1e4)); half the cells get a per-gene
  // batch effect, a log-normal fold change (sd 1.5 in log space) resampled as Poisson counts, strong enough that the
  // unintegrated clustering splits cell types by batch, as a change of chemistry or site does in real data.
  await python(
    `import json, sys, numpy as np, scanpy as sc, scipy.sparse as sp
a = sc.datasets.pbmc68k_reduced()
x = np.expm1(a.raw.X.toarray() if sp.issparse(a.raw.X) else a.raw.X)
counts = np.round(x / x.sum(axis=1, keepdims=True) * a.obs["n_counts"].to_numpy()[:, None])
rng = np.random.default_rng(0)
half = rng.random(a.n_obs) < 0.5
counts[half] = rng.poisson(counts[half] * rng.lognormal(0, 1.5, counts.shape[1]))
for name, mask in (("b1", ~half), ("b2", half)):
    ad = sc.AnnData(X=sp.csr_matrix(counts[mask].astype(np.float32)), obs=a.obs.loc[mask, ["bulk_labels"]].copy())
    ad.var_names = a.raw.var_names
    ad.obs["bulk_labels"] = ad.obs["bulk_labels"].astype(str)
    ad.write_h5ad(f"{sys.argv[1]}/{name}.h5ad")
print(json.dumps(int(half.sum())))`,
    [base],
  );
  const sheet = await tempSheet(`sample,batch,matrix\nb1,b1,${base}/b1.h5ad\nb2,b2,${base}/b2.h5ad`);
  t.teardown(sheet.cleanup);
  const nf = await nextflow(
    [
      '--input_type',
      'matrix',
      '--input',
      sheet.file,
      '--label_key',
      'bulk_labels',
      '--mito_prefix',
      'MT-',
      '--min_cells_per_gene',
      '0',
      '--n_top_genes',
      '500',
      '--leiden_resolution',
      '0.5',
    ],
    'nf-pbmc68k-',
  );
  t.teardown(nf.cleanup);
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  const m = (
    await readJson<{ integration: { metrics: { ari: { before: number; after: number }; ilisi: { before: number; after: number } } } }>(
      path.join(nf.outdir, 'manifest.json'),
    )
  ).integration.metrics;
  // bulk_labels are FACS-sorted populations that transcriptome clusters only partly resolve: ARI 0.52 with no batch
  // effect at all. The simulated batch drops the unintegrated clustering to ~0.33 (0.31-0.33 over three seeds of the
  // effect); Harmony brings it back to ~0.51.
  t.ok(m.ari.after >= 0.45, `ARI vs bulk_labels after Harmony ${m.ari.after.toFixed(3)}`);
  t.ok(
    m.ari.after >= m.ari.before + 0.12,
    `ARI vs bulk_labels: unintegrated ${m.ari.before.toFixed(3)}, Harmony ${m.ari.after.toFixed(3)}`,
  );
  t.ok(m.ilisi.after > m.ilisi.before + 0.2, `iLISI ${m.ilisi.before.toFixed(3)} -> ${m.ilisi.after.toFixed(3)}`);
});
