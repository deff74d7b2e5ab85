// Scrublet's threshold: its own automatic one by default (recomputed here with scanpy from the cells the run kept),
// an explicit, recorded fallback for a sample too small for it, and the fixed override; on scanpy's real
// CellRanger 3 matrix (1,107 cells) and a 150-cell subset of it.
import path from 'node:path';
import t from 'tap';
import { sharedData } from '../helpers/paths.js';
import { nextflow, python, readJson, tempSheet } from './nf.js';

interface Sample {
  sample: string;
  qc_thresholds: Record<string, number>;
  doublets: { method: string; threshold: number; threshold_source: string; reason: string | null; predicted_doublets: number };
}
interface Manifest {
  params: Record<string, unknown>;
  samples: Sample[];
  methods: Record<string, { parameters: Record<string, unknown> }>;
  integration: { clusterings: { key: string }[] };
}

const cr3 = path.join(sharedData, 'scanpy_10x/3.0.0');
const args = ['--input_type', 'matrix', '--n_pcs', '10', '--n_top_genes', '200', '--min_cells_per_gene', '0'];

t.test('automatic threshold on 1,107 cells; a 150-cell sample falls back, with its reason', async (t) => {
  const dir = await tempSheet('placeholder');
  t.teardown(dir.cleanup);
  const small = path.join(path.dirname(dir.file), 'small.h5ad');
  await python(
    `import json, sys, scanpy as sc
a = sc.read_10x_mtx(sys.argv[1])
a[:150].copy().write_h5ad(sys.argv[2])
print(json.dumps(150))`,
    [path.join(cr3, 'filtered_feature_bc_matrix'), small],
  );
  const sheet = await tempSheet(`sample,batch,matrix\nfull,b1,${cr3}/filtered_feature_bc_matrix\nsmall,b2,${small}`);
  t.teardown(sheet.cleanup);
  const nf = await nextflow([...args, '--input', sheet.file, '--pct_mt_ceiling', '5'], 'nf-doublets-');
  t.teardown(nf.cleanup);
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  t.notMatch(nf.stdout + nf.stderr, /Traceback/);
  const m = await readJson<Manifest>(path.join(nf.outdir, 'manifest.json'));
  const by = Object.fromEntries(m.samples.map((s) => [s.sample, s]));
  const full = by.full?.doublets;
  const tiny = by.small?.doublets;
  t.match(full, { method: 'scrublet', threshold_source: 'automatic', reason: null }, JSON.stringify(full));
  t.match(tiny, { method: 'scrublet', threshold_source: 'fallback', threshold: m.params.doublet_fallback_threshold }, JSON.stringify(tiny));
  t.match(tiny?.reason, /150 cells, fewer than the 200/);
  t.equal(m.methods.doublets?.parameters.doublet_threshold, null, 'the run asked for the automatic threshold');
  for (const s of m.samples) t.ok((s.qc_thresholds.max_pct_mt ?? 100) <= 5, `${s.sample}: pct_mt_ceiling bounds max_pct_mt`);

  // The same cells through scanpy's scrublet with its automatic threshold give the recorded one, and every sample's
  // calls follow its recorded threshold.
  const check = await python<{ auto: number; consistent: Record<string, boolean> }>(
    `import json, sys, numpy as np, anndata as ad, scanpy as sc
h = ad.read_h5ad(sys.argv[1])
thr = json.loads(sys.argv[2])
full = h[h.obs["sample"] == "full"]
a = ad.AnnData(X=full.layers["counts"].copy(), obs=full.obs[[]].copy(), var=full.var[[]].copy())
sc.pp.scrublet(a, random_state=0, verbose=False, use_approx_neighbors=False, threshold=None,
               n_prin_comps=max(2, min(30, a.n_vars // 4, a.n_obs - 1)))
ok = {s: bool(((h.obs.loc[h.obs["sample"] == s, "doublet_score"] > t) == h.obs.loc[h.obs["sample"] == s, "predicted_doublet"].astype(bool)).all())
      for s, t in thr.items()}
print(json.dumps({"auto": float(a.uns["scrublet"]["threshold"]), "consistent": ok}))`,
    [
      path.join(nf.outdir, 'integration/integrated.h5ad'),
      JSON.stringify(Object.fromEntries(m.samples.map((s) => [s.sample, s.doublets.threshold]))),
    ],
  );
  t.ok(Math.abs(check.auto - (full?.threshold ?? -1)) < 1e-9, `scrublet's automatic threshold ${check.auto}, recorded ${full?.threshold}`);
  t.not(full?.threshold, m.params.doublet_fallback_threshold);
  t.same(check.consistent, { full: true, small: true }, 'predicted doublets are the cells above each recorded threshold');
});

t.test('a fixed threshold overrides the automatic one and is recorded as fixed (one resolution given as a number)', async (t) => {
  const sheet = await tempSheet(`sample,batch,matrix\nh5,b1,${cr3}/filtered_feature_bc_matrix.h5`);
  t.teardown(sheet.cleanup);
  const nf = await nextflow(
    [...args, '--input', sheet.file, '--doublet_threshold', '0.3', '--leiden_resolutions', '0.5'],
    'nf-doublets-fixed-',
  );
  t.teardown(nf.cleanup);
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  const m = await readJson<Manifest>(path.join(nf.outdir, 'manifest.json'));
  t.match(m.samples[0]?.doublets, { method: 'scrublet', threshold_source: 'fixed', threshold: 0.3, reason: null });
  t.same(
    m.integration.clusterings.map((c) => c.key),
    ['leiden_r0.5', 'leiden_r1'],
    'leiden_resolutions 0.5 beside the default leiden_resolution 1',
  );
});
