// Multi-genome (barnyard) CellRanger HDF5 matrices, built here with h5py in both layouts: CellRanger 2's legacy one
// group per genome and CellRanger 3+'s matrix/features/genome holding two genomes. Without a `genome` column the
// samplesheet fails before any task, naming the row and the genomes found; with it, only that genome's features
// are read (each kept cell's total counts equal its counts over that genome's features in the file).
import path from 'node:path';
import t from 'tap';
import { nextflow, python, tempSheet } from './nf.js';

// 300 cells x 60 genes per genome (GRCh38_G.., mm10_G..), Poisson counts with per-cell size factors, seeded.
// Prints each genome's total counts per barcode.
const BUILD = `import json, sys
import h5py, numpy as np, scipy.sparse as sp
out = sys.argv[1]
rng = np.random.default_rng(0)
n_cells, n_genes, genomes = 300, 60, ["GRCh38", "mm10"]
counts = {g: rng.poisson(rng.lognormal(0, 0.4, n_cells)[:, None] * rng.lognormal(0.5 + i, 0.8, n_genes)[None, :]) for i, g in enumerate(genomes)}
genes = {g: [f"{g}_G{j:02d}" for j in range(n_genes)] for g in genomes}
barcodes = ["".join(rng.choice(list("ACGT"), 16)) + "-1" for _ in range(n_cells)]
enc = lambda xs: np.array([x.encode() for x in xs])
def put(grp, cells_by_genes):
    m = sp.csc_matrix(cells_by_genes.T.astype(np.int32))  # genes x cells, compressed by cell
    grp["barcodes"] = enc(barcodes); grp["data"] = m.data; grp["indices"] = m.indices; grp["indptr"] = m.indptr
    grp["shape"] = np.array(m.shape, dtype=np.int32)
with h5py.File(f"{out}/cr3.h5", "w") as f:
    grp = f.create_group("matrix")
    put(grp, np.hstack([counts[g] for g in genomes]))
    ids = [x for g in genomes for x in genes[g]]
    ft = grp.create_group("features")
    ft["id"] = enc(ids); ft["name"] = enc(ids); ft["feature_type"] = enc(["Gene Expression"] * len(ids))
    ft["genome"] = enc([g for g in genomes for _ in genes[g]]); ft["_all_tag_keys"] = enc(["genome"])
with h5py.File(f"{out}/cr2.h5", "w") as f:
    for g in genomes:
        grp = f.create_group(g)
        put(grp, counts[g])
        grp["genes"] = enc(genes[g]); grp["gene_names"] = enc(genes[g])
print(json.dumps({g: dict(zip(barcodes, counts[g].sum(axis=1).tolist())) for g in genomes}))`;

t.test('barnyard HDF5 matrices: refused before any task without genome, one genome read with it', async (t) => {
  const work = await tempSheet('placeholder');
  t.teardown(work.cleanup);
  const dir = path.dirname(work.file);
  const totals = await python<Record<string, Record<string, number>>>(BUILD, [dir]);
  const cr3 = path.join(dir, 'cr3.h5');
  const cr2 = path.join(dir, 'cr2.h5');

  for (const [layout, file] of [
    ['CellRanger 3+ (features/genome)', cr3],
    ['CellRanger 2 (a group per genome)', cr2],
  ] as const) {
    const sheet = await tempSheet(`sample,batch,matrix\nbarnyard,b1,${file}`);
    t.teardown(sheet.cleanup);
    const nf = await nextflow(['--input_type', 'matrix', '--input', sheet.file], 'nf-genome-');
    t.teardown(nf.cleanup);
    const out = nf.stdout + nf.stderr;
    t.not(nf.code, 0, `${layout}: refused`);
    t.match(
      out,
      new RegExp(`row 1 \\(sample 'barnyard'\\), column matrix: '[^']*${path.basename(file)}' holds 2 genomes \\(GRCh38, mm10\\)`),
      layout,
    );
    t.notMatch(out, /Submitted process/, `${layout}: before any task`);
  }

  const wrong = await tempSheet(`sample,batch,matrix,genome\nbarnyard,b1,${cr3},hg19`);
  t.teardown(wrong.cleanup);
  const bad = await nextflow(['--input_type', 'matrix', '--input', wrong.file], 'nf-genome-');
  t.teardown(bad.cleanup);
  t.not(bad.code, 0);
  t.match(
    bad.stdout + bad.stderr,
    /row 1 \(sample 'barnyard'\), column genome: 'hg19' is not a genome of matrix '[^']*cr3\.h5' \(it holds GRCh38, mm10\)/,
  );
  t.notMatch(bad.stdout, /Submitted process/);

  const sheet = await tempSheet(`sample,batch,matrix,genome\nlayout3,b1,${cr3},mm10\nlayout2,b2,${cr2},mm10`);
  t.teardown(sheet.cleanup);
  const nf = await nextflow(['--input_type', 'matrix', '--input', sheet.file, '--n_pcs', '10', '--n_top_genes', '50'], 'nf-genome-ok-');
  t.teardown(nf.cleanup);
  t.equal(nf.code, 0, nf.stdout + nf.stderr);
  const cells = await python<{ sample: string; barcode: string; total: number; genes: string[] }[]>(
    `import json, sys, anndata as ad, numpy as np
h = ad.read_h5ad(sys.argv[1])
out = []
for s in ["layout3", "layout2"]:
    part = h[h.obs["sample"] == s]
    used = part.var_names[np.asarray(part.layers["counts"].sum(axis=0)).ravel() > 0].tolist()
    out += [{"sample": s, "barcode": b, "total": float(c), "genes": used if i == 0 else []} for i, (b, c) in enumerate(zip(part.obs["barcode"], part.obs["total_counts"]))]
print(json.dumps(out))`,
    [path.join(nf.outdir, 'integration/integrated.h5ad')],
  );
  // Both samples read mm10 (from either layout), so the integration sees one gene set.
  const genomeOf = { layout3: 'mm10', layout2: 'mm10' } as const;
  for (const s of ['layout3', 'layout2'] as const) {
    const mine = cells.filter((c) => c.sample === s);
    t.ok(mine.length > 200, `${s}: ${mine.length} cells kept`);
    t.ok(
      mine.every((c) => c.total === totals[genomeOf[s]]?.[c.barcode]),
      `${s}: every cell's total counts are its ${genomeOf[s]} counts in the file`,
    );
    const used = mine[0]?.genes ?? [];
    t.ok(used.length > 0 && used.every((g) => g.startsWith(`${genomeOf[s]}_`)), `${s}: only ${genomeOf[s]} genes have counts`);
  }
});
