#!/usr/bin/env python3
"""Benchmark of INTEGRATE (workflows/bin/qc_sample.py per sample + integrate.py) against a plain one-process scanpy
script doing the same steps, on synthetic count matrices of 20k, 100k and 300k cells. Each contender runs as a
child process; wall time and peak RSS (ru_maxrss of the child) are measured in the same run. Prints JSON.

    .cache/venv/bin/python bench/integrate.py --cells 20000 [100000 300000] [--out bench/integrate.results.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "workflows", "bin")
N_GENES, N_TYPES, N_SAMPLES = 3000, 8, 4

PLAIN = r'''
import sys, numpy as np, anndata as ad, scanpy as sc, harmonypy
sys.path.insert(0, sys.argv[1])
from integrate import quality  # the workflow's iLISI/cLISI/ARI/NMI, counted on both sides
paths = sys.argv[2:]
parts = []
for p in paths:
    a = sc.read_h5ad(p)
    a.var["mt"] = a.var_names.str.startswith("MT-")
    sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], percent_top=None, log1p=False, inplace=True)
    keep = np.ones(a.n_obs, bool)
    for col in ("total_counts", "n_genes_by_counts"):
        v = np.log1p(a.obs[col].to_numpy()); m = np.median(v); d = np.median(np.abs(v - m))
        keep &= (v >= m - 5 * d) & (v <= m + 5 * d)
    v = a.obs["pct_counts_mt"].to_numpy(); m = np.median(v); keep &= v <= m + 3 * np.median(np.abs(v - m))
    a = a[keep].copy()
    sc.pp.scrublet(a, random_state=0, verbose=False, threshold=0.25, use_approx_neighbors=False)
    parts.append(a)
adata = ad.concat(parts, join="outer", fill_value=0)
sc.pp.filter_genes(adata, min_cells=3)
adata.layers["counts"] = adata.X.copy()
sc.pp.normalize_total(adata, target_sum=1e4); sc.pp.log1p(adata)
sc.pp.highly_variable_genes(adata, n_top_genes=2000, flavor="seurat", batch_key="batch")
sc.pp.pca(adata, n_comps=30, mask_var="highly_variable", random_state=0)
sc.pp.neighbors(adata, use_rep="X_pca", key_added="unintegrated", transformer="sklearn"); sc.tl.leiden(adata, flavor="igraph", n_iterations=2, neighbors_key="unintegrated", key_added="l0")
labels, batches = adata.obs["cell_type"].astype(str).to_numpy(), adata.obs["batch"].astype(str).to_numpy()
before = quality(adata.obsm["X_pca"], batches, labels, adata.obs["l0"].astype(str).to_numpy())
ho = harmonypy.run_harmony(adata.obsm["X_pca"], adata.obs[["batch"]], ["batch"], random_state=0, verbose=False)
z = np.asarray(ho.Z_corr); adata.obsm["X_pca_harmony"] = z if z.shape[0] == adata.n_obs else z.T
sc.pp.neighbors(adata, use_rep="X_pca_harmony", transformer="sklearn"); sc.tl.umap(adata, random_state=0); sc.tl.leiden(adata, flavor="igraph", n_iterations=2)
after = quality(adata.obsm["X_pca_harmony"], batches, labels, adata.obs["leiden"].astype(str).to_numpy())
adata.write_h5ad("plain.h5ad", compression="gzip")
'''


def make_samples(n_cells, outdir, seed=0):
    """Sparse counts: cell types with markers, a per-gene batch effect per sample, MT- genes; one h5ad per sample."""
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    base = rng.lognormal(0, 1.2, N_GENES)
    profiles = np.tile(base, (N_TYPES, 1))
    for t in range(N_TYPES):
        profiles[t, rng.choice(N_GENES, 40, replace=False)] *= 10
    profiles /= profiles.sum(1, keepdims=True)
    genes = [f"MT-{i}" if i < 13 else f"G{i}" for i in range(N_GENES)]
    paths = []
    for s in range(N_SAMPLES):
        n = n_cells // N_SAMPLES
        effect = rng.lognormal(0, 0.4, N_GENES)
        types = rng.integers(0, N_TYPES, n)
        sizes = rng.lognormal(np.log(2500), 0.4, n).astype(int)
        rows, cols, vals = [], [], []
        for t in range(N_TYPES):
            idx = np.nonzero(types == t)[0]
            p = profiles[t] * effect
            p /= p.sum()
            # Poisson counts drawn gene-by-gene per cell block, kept sparse.
            lam = sizes[idx, None] * p[None, :]
            x = sp.csr_matrix(rng.poisson(lam).astype(np.float32))
            x = x.tocoo()
            rows.append(idx[x.row]); cols.append(x.col); vals.append(x.data)
        X = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, N_GENES))
        obs = pd.DataFrame({"cell_type": types.astype(str)}, index=[f"S{s}C{i}" for i in range(n)])
        a = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
        a.obs["batch"] = f"b{s}"
        path = os.path.join(outdir, f"S{s}.h5ad")
        a.write_h5ad(path)
        paths.append(path)
    return paths


def measure(cmd, cwd):
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:2]} failed: {err[-2000:]}")
    return time.monotonic() - t0, usage.ru_maxrss * 1024


def run_pipeline(paths, work):
    """The workflow's INTEGRATE steps as Nextflow runs them: one qc_sample.py per sample, then integrate.py."""
    wall, peak = 0.0, 0
    for p in paths:
        s = os.path.basename(p).removesuffix(".h5ad")
        w, r = measure([sys.executable, os.path.join(BIN, "qc_sample.py"), "--sample", s, "--batch", s, "--chemistry", "10xv3", "--matrix", p], work)
        wall, peak = wall + w, max(peak, r)
    qc = [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.endswith(".qc.h5ad")]
    ranks = [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.endswith(".ranks.tsv")]
    w, r = measure([sys.executable, os.path.join(BIN, "integrate.py"), "--h5ad", *qc, "--ranks", *ranks, "--label-key", "cell_type"], work)
    return wall + w, max(peak, r), json.load(open(os.path.join(work, "integration.json")))["metrics"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cells", type=int, nargs="+", default=[20000, 100000, 300000])
    ap.add_argument("--out")
    a = ap.parse_args()
    results = []
    for n in a.cells:
        with tempfile.TemporaryDirectory(prefix=f"bench-integrate-{n}-") as tmp:
            data, work, plain = (os.path.join(tmp, d) for d in ("data", "work", "plain"))
            for d in (data, work, plain):
                os.makedirs(d)
            paths = make_samples(n, data)
            # cell_type stays in obs, so integrate.py reports ARI/NMI against it.
            pw, pr, metrics = run_pipeline(paths, work)
            bw, br = measure([sys.executable, "-c", PLAIN, BIN, *paths], plain)
            # The workflow starts one interpreter per sample (separate SCANPY_QC tasks) plus INTEGRATE's; the plain
            # script one. The extra start-ups are qc_sample.py's imports, measured here and reported beside the ratio.
            su, _ = measure([sys.executable, "-c", "import numpy, scanpy, scipy.sparse"], plain)
            extra = su * N_SAMPLES  # N_SAMPLES + 1 interpreters against the plain script's one
            row = {"cells": n, "genes": N_GENES, "samples": N_SAMPLES,
                   "workflow": {"wall_s": round(pw, 1), "peak_rss_gib": round(pr / 2**30, 2)},
                   "plain_scanpy": {"wall_s": round(bw, 1), "peak_rss_gib": round(br / 2**30, 2)},
                   "time_ratio": round(pw / bw, 3), "rss_ratio": round(pr / br, 3),
                   "extra_process_startup_s": round(extra, 1), "time_ratio_excl_extra_startup": round((pw - extra) / bw, 3),
                   "integration_metrics": metrics}
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    out = {"benchmark": "integrate", "cpus": os.cpu_count(), "goal": {"time_ratio_max": 1.15, "rss_ratio_max": 1.2}, "results": results}
    text = json.dumps(out, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
