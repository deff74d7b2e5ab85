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
# the workflow's iLISI/cLISI/ARI/NMI and its exact-or-approximate kNN rule, so both sides compute the same things
from integrate import knn_transformer, lisi_neighbors, quality
RESOLUTIONS = (0.25, 0.5, 1.0)  # the workflow's defaults: leiden_resolutions, with leiden_resolution 1.0 among them
paths = sys.argv[2:]
parts = []
for p in paths:
    a = sc.read_h5ad(p)
    a.var["mt"] = a.var_names.str.startswith("MT-")
    sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], percent_top=[20], log1p=False, inplace=True)
    keep = np.ones(a.n_obs, bool)
    for col, log in (("total_counts", True), ("n_genes_by_counts", True), ("pct_counts_in_top_20_genes", False)):
        v = a.obs[col].to_numpy(); v = np.log1p(v) if log else v; m = np.median(v); d = np.median(np.abs(v - m))
        keep &= (v >= m - 5 * d) & (v <= m + 5 * d)
    v = a.obs["pct_counts_mt"].to_numpy(); m = np.median(v); keep &= v <= m + 3 * np.median(np.abs(v - m))
    a = a[keep].copy()
    sc.pp.scrublet(a, random_state=0, verbose=False, threshold=None, use_approx_neighbors=False)
    parts.append(a)
adata = ad.concat(parts, join="outer", fill_value=0)
sc.pp.filter_genes(adata, min_cells=3)
adata.layers["counts"] = adata.X.copy()
sc.pp.normalize_total(adata, target_sum=1e4); sc.pp.log1p(adata)
sc.pp.highly_variable_genes(adata, n_top_genes=2000, flavor="seurat_v3", batch_key="batch", layer="counts")
sc.pp.pca(adata, n_comps=30, mask_var="highly_variable", random_state=0)
tf = knn_transformer(adata.n_obs)
sc.pp.neighbors(adata, use_rep="X_pca", key_added="unintegrated", transformer=tf, random_state=0)
for r in RESOLUTIONS:
    sc.tl.leiden(adata, resolution=r, flavor="igraph", n_iterations=2, neighbors_key="unintegrated", key_added=f"l0_{r}")
labels, batches = adata.obs["cell_type"].astype(str).to_numpy(), adata.obs["batch"].astype(str).to_numpy()
nn = lisi_neighbors(adata.obsm["X_pca"], 0)
before = {r: quality(adata.obsm["X_pca"], batches, labels, adata.obs[f"l0_{r}"].astype(str).to_numpy(), nn=nn) for r in RESOLUTIONS}
ho = harmonypy.run_harmony(adata.obsm["X_pca"], adata.obs[["batch"]], ["batch"], random_state=0, verbose=False)
z = np.asarray(ho.Z_corr); adata.obsm["X_pca_harmony"] = z if z.shape[0] == adata.n_obs else z.T
sc.pp.neighbors(adata, use_rep="X_pca_harmony", transformer=tf, random_state=0)
sc.tl.umap(adata, random_state=0)
for r in RESOLUTIONS:
    sc.tl.leiden(adata, resolution=r, flavor="igraph", n_iterations=2, key_added=f"leiden_r{r:g}")
nn = lisi_neighbors(adata.obsm["X_pca_harmony"], 0)
after = {r: quality(adata.obsm["X_pca_harmony"], batches, labels, adata.obs[f"leiden_r{r:g}"].astype(str).to_numpy(), nn=nn) for r in RESOLUTIONS}
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


def threads(cpus):
    """The thread-pool variables a task gets from workflows/lib/ThreadEnv.groovy, for a task of `cpus` CPUs."""
    n = str(cpus)
    return {**os.environ, "OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n, "NUMBA_NUM_THREADS": n}


def measure(cmds, cwd, parallel=1, env=None):
    """Runs the commands as child processes, at most `parallel` at a time, in order. Returns the wall time from the
    first start to the last exit and the peak RSS: the largest child's, or with parallel > 1 the sum of the
    `parallel` largest (an upper bound on what ran at once)."""
    t0, queue, running, peaks = time.monotonic(), list(cmds), {}, []
    while queue or running:
        while queue and len(running) < parallel:
            cmd = queue.pop(0)
            err = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child can't block on a full pipe
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env)
            running[proc.pid] = (err, cmd)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        err, cmd = running.pop(pid)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{cmd[:2]} failed: {err.read().decode()[-2000:]}")
        err.close()
        peaks.append(usage.ru_maxrss * 1024)
    return time.monotonic() - t0, sum(sorted(peaks)[-parallel:])


def run_pipeline(paths, work):
    """The workflow's INTEGRATE steps as Nextflow's local executor runs them: qc_sample.py per sample, as many at once
    as there are cores (SCANPY_QC asks for 1 cpu), then integrate.py (SCANPY_INTEGRATE: 2), each with its task's
    thread pools."""
    def settings(name, values):
        # The steps take their user-given values as a settings JSON (on stdin in the workflow, a file here).
        f = os.path.join(work, f"{name}.settings.json")
        with open(f, "w") as out:
            json.dump(values, out)
        return f

    samples = [(p, os.path.basename(p).removesuffix(".h5ad")) for p in paths]
    qc_cmds = [[sys.executable, os.path.join(BIN, "qc_sample.py"), "--matrix", p, "--settings",
                settings(s, {"sample": s, "batch": s, "chemistry": "10xv3", "mito_prefix": "MT-"})] for p, s in samples]
    qc_wall, qc_peak = measure(qc_cmds, work, parallel=min(len(qc_cmds), os.cpu_count() or 1), env=threads(1))
    qc = [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.endswith(".qc.h5ad")]
    ranks = [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.endswith(".ranks.tsv")]
    w, r = measure([[sys.executable, os.path.join(BIN, "integrate.py"), "--h5ad", *qc, "--ranks", *ranks, "--settings", settings("integrate", {"label_key": "cell_type"})]], work, env=threads(2))
    metrics = json.load(open(os.path.join(work, "integration.json")))["metrics"]
    return {"qc_wall_s": round(qc_wall, 1), "qc_peak_rss_gib": round(qc_peak / 2**30, 2), "integrate_wall_s": round(w, 1),
            "integrate_peak_rss_gib": round(r / 2**30, 2)}, qc_wall + w, max(qc_peak, r), metrics


def fit_24gib(results):
    """Peak RSS grows linearly with cells; extrapolate the line through the two largest sizes to 24 GiB."""
    (a, b), out = results[-2:], {"method": "linear extrapolation of peak RSS through the two largest measured sizes"}
    for side in ("workflow", "plain_scanpy"):
        slope = (b[side]["peak_rss_gib"] - a[side]["peak_rss_gib"]) / (b["cells"] - a["cells"])
        out[side] = int(b["cells"] + (24 - b[side]["peak_rss_gib"]) / slope) if slope > 0 else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cells", type=int, nargs="+", default=[20000, 100000, 300000])
    ap.add_argument("--out")
    a = ap.parse_args()
    # Not timed: fills numba's on-disk caches (umap, pynndescent) so neither contender pays for compiling and writing
    # them, which would otherwise fall on whichever runs first after a fresh install (+6 s on the workflow at 20k).
    with tempfile.TemporaryDirectory(prefix="bench-integrate-warmup-") as tmp:
        os.makedirs(os.path.join(tmp, "work"))
        paths = make_samples(2000, tmp)
        run_pipeline(paths, os.path.join(tmp, "work"))
        measure([[sys.executable, "-c", PLAIN, BIN, *paths]], tmp)
    results = []
    for n in a.cells:
        with tempfile.TemporaryDirectory(prefix=f"bench-integrate-{n}-") as tmp:
            data, work, plain = (os.path.join(tmp, d) for d in ("data", "work", "plain"))
            for d in (data, work, plain):
                os.makedirs(d)
            paths = make_samples(n, data)
            # cell_type stays in obs, so integrate.py reports ARI/NMI against it.
            steps, pw, pr, metrics = run_pipeline(paths, work)
            bw, br = measure([[sys.executable, "-c", PLAIN, BIN, *paths]], plain)
            row = {"cells": n, "genes": N_GENES, "samples": N_SAMPLES,
                   "workflow": {"wall_s": round(pw, 1), "peak_rss_gib": round(pr / 2**30, 2), **steps},
                   "plain_scanpy": {"wall_s": round(bw, 1), "peak_rss_gib": round(br / 2**30, 2)},
                   "time_ratio": round(pw / bw, 3), "rss_ratio": round(pr / br, 3), "integration_metrics": metrics}
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    out = {"benchmark": "integrate", "cpus": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
           "goal": {"time_ratio_max": 1.15, "rss_ratio_max": 1.2}, "results": results}
    if len(results) >= 2:
        out["largest_cells_in_24gib"] = fit_24gib(results)
    text = json.dumps(out, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
