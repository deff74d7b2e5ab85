#!/usr/bin/env python3
"""Per-sample QC: reads a 10x matrix (MTX directory in CellRanger >=3 or <=2 layout, 10x .h5, or .h5ad with
counts), computes scanpy's calculate_qc_metrics (genes, counts, percent mitochondrial, percent of counts in the
top 20 genes), flags outliers by median +- n MADs (log1p counts, log1p genes, percent in the top 20 genes;
percent mito above median + n MADs or above an optional hard ceiling), with fixed thresholds replacing MAD
bounds when given, scores doublets with scrublet (its automatic threshold, or a fixed one), and writes
<sample>.qc.h5ad (kept cells, sparse counts), <sample>.ranks.tsv (barcode-rank curve from the raw matrix) and
<sample>.metrics.json (the manifest's sample entry)."""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import scanpy as sc
import scipy.sparse as sp
from matrix_genomes import choose as choose_genome

warnings.filterwarnings("ignore", category=FutureWarning)
TOP_GENES = 20  # pct_counts_in_top_20_genes, as in the scverse best-practices QC
# Below this many cells scrublet's automatic threshold is erratic: ~2n simulated scores over k = 0.5 sqrt(n)
# neighbours make a coarse histogram. On subsamples of scanpy's CellRanger 3 matrix it called 5-37 % of 100-150 cells
# doublets against 2-6 % from 200 cells up (expected rate 5 %), so smaller samples use the fallback threshold.
AUTO_THRESHOLD_MIN_CELLS = 200
# scrublet needs enough cells for its kNN over observed + simulated doublets
SCRUBLET_MIN_CELLS = 100
# ... and enough of its own variable genes for a PCA of a few components (a small panel, e.g. a 51-gene chr21 region +
# chrM reference, leaves 4, on which its PCA fails)
SCRUBLET_MIN_GENES = 10


def read_matrix(path, genome=None):
    if os.path.isdir(path):
        entries = os.listdir(path)
        if not any(e.startswith("matrix.mtx") for e in entries):
            subdirs = [e for e in entries if os.path.isdir(os.path.join(path, e))]
            if len(subdirs) != 1:
                raise SystemExit(f"ERROR: {path} holds no matrix.mtx[.gz] (nor a single genome folder with one)")
            return read_matrix(os.path.join(path, subdirs[0]), genome)
        adata = sc.read_10x_mtx(path, var_names="gene_symbols", make_unique=True)
    elif path.endswith(".h5ad"):
        adata = sc.read_h5ad(path)
        if "counts" in adata.layers:
            adata.X = adata.layers["counts"]
        adata = sc.AnnData(X=sp.csr_matrix(adata.X), obs=adata.obs.copy(), var=adata.var[[]].copy())
    else:
        adata = sc.read_10x_h5(path, genome=choose_genome(path, genome))
        adata.var_names_make_unique()
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    data = adata.X.data
    if data.size and (data.min() < 0 or not np.allclose(data[: 100000], np.round(data[: 100000]))):
        raise SystemExit(f"ERROR: {path} does not hold raw counts (negative or non-integer values); give a counts matrix or an .h5ad with layers['counts']")
    return adata


def mad(x):
    return float(np.median(np.abs(x - np.median(x))))


def bounds(x, nmads, log=True):
    """Natural-unit (lo, hi) of median +- nmads*MAD on log1p(x); None when MAD is 0 (no spread to judge by)."""
    if len(x) == 0:
        return None, None
    v = np.log1p(x) if log else x
    m, d = float(np.median(v)), mad(v)
    if d == 0:
        return None, None
    lo, hi = m - nmads * d, m + nmads * d
    return (float(np.expm1(lo)), float(np.expm1(hi))) if log else (lo, hi)


def qc_skips(thresholds, n_cells):
    """The QC bounds the data cannot give (no cells, or no spread to take MADs of), as the sample's skipped steps."""
    if not n_cells:
        return [{"step": "qc", "action": "skipped", "reason": "the matrix holds no cells"}]
    flat = [k for k, v in thresholds.items() if v is None]
    return [{"step": "qc", "action": "skipped", "reason": f"no spread in the sample (MAD 0) for {', '.join(flat)}: no bound applied, the observed extreme is reported"}] if flat else []


def scrublet_genes(sub):
    """How many genes scrublet would embed: its own preprocessing (genes in >= 3 cells, cells with >= 3 genes,
    normalised, log1p, scanpy's default highly variable genes), run on a copy."""
    x = sub.copy()
    sc.pp.filter_genes(x, min_cells=3)
    sc.pp.filter_cells(x, min_genes=3)
    if x.n_obs < 2 or x.n_vars < 2:
        return 0
    sc.pp.normalize_total(x)
    sc.pp.log1p(x)
    sc.pp.highly_variable_genes(x)
    return int(x.var["highly_variable"].sum())


def call_doublets(sub, a, n_genes):
    """Scrublet scores; threshold: a.doublet_threshold if given, else scrublet's automatic one (skimage's
    threshold_minimum on the simulated doublets' scores), falling back to a.doublet_fallback_threshold, with the
    reason, when the sample is too small for it or the histogram has no two modes. Returns the manifest record."""
    if a.doublet_threshold is not None:
        source, reason, given = "fixed", None, a.doublet_threshold
    elif sub.n_obs < AUTO_THRESHOLD_MIN_CELLS:
        source, reason, given = "fallback", f"{sub.n_obs} cells, fewer than the {AUTO_THRESHOLD_MIN_CELLS} the automatic threshold needs", a.doublet_fallback_threshold
    else:
        source, reason, given = "automatic", None, a.doublet_fallback_threshold
    # Exact kNN: at scrublet's k (~120 over observed + simulated cells) sklearn's brute-force search is ~4x faster
    # than pynndescent (75k points: 17 s vs 65 s).
    sc.pp.scrublet(sub, random_state=a.seed, verbose=False, use_approx_neighbors=False, threshold=None if source == "automatic" else given,
                   # scrublet keeps only its own variable genes; a quarter of all genes stays below that count on tiny panels
                   n_prin_comps=max(2, min(30, sub.n_vars // 4, n_genes - 1, sub.n_obs - 1)))
    threshold = sub.uns["scrublet"].get("threshold")
    if threshold is None:
        # scanpy swallows threshold_minimum's "Unable to find two maxima in histogram" and calls no doublets
        source, threshold, reason = "fallback", given, "no automatic threshold: the simulated doublets' score histogram has no two modes"
        sub.obs["predicted_doublet"] = sub.obs["doublet_score"] > threshold
    if reason:
        print(f"scrublet: fallback threshold {threshold} ({reason})", file=sys.stderr)
    return {"method": "scrublet", "threshold": float(threshold), "threshold_source": source, "reason": reason,
            "predicted_doublets": int(sub.obs["predicted_doublet"].sum()), "removed": bool(a.remove_doublets)}


def barcode_ranks(raw, cells, max_points=2000):
    umi = np.asarray(raw.X.sum(axis=1)).ravel()
    keep = umi >= 1
    umi, names = umi[keep], raw.obs_names[keep]
    order = np.argsort(-umi, kind="stable")
    n = len(order)
    if n > max_points:
        idx = np.unique(np.round(np.geomspace(1, n, max_points)).astype(int) - 1)
    else:
        idx = np.arange(n)
    is_cell = np.isin(names[order[idx]], cells)
    return [(int(i) + 1, int(umi[order[i]]), bool(c)) for i, c in zip(idx, is_cell, strict=True)]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settings", required=True, help="JSON ('-' for stdin): sample, batch, chemistry, mito_prefix")
    ap.add_argument("--matrix", required=True, help="filtered (called cells) matrix")
    ap.add_argument("--raw", help="raw (all barcodes) matrix for the barcode-rank curve")
    ap.add_argument("--count-metrics", help="counter metrics.json (CellRanger names)")
    ap.add_argument("--registration", help="registration JSON")
    ap.add_argument("--nmads", type=float, default=5)
    ap.add_argument("--mt-nmads", type=float, default=3)
    ap.add_argument("--pct-mt-ceiling", type=float, help="hard upper bound on percent mito, applied beside the MAD bound")
    for k in ("max-pct-mt", "min-genes", "max-genes", "min-counts", "max-counts"):
        ap.add_argument(f"--{k}", type=float)
    ap.add_argument("--doublets", choices=["scrublet", "none"], default="scrublet")
    ap.add_argument("--doublet-threshold", type=float, help="fixed scrublet threshold; default: scrublet's automatic one")
    ap.add_argument("--doublet-fallback-threshold", type=float, default=0.25, help="when no automatic threshold can be found")
    ap.add_argument("--remove-doublets", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with (sys.stdin if a.settings == "-" else open(a.settings)) as f:
        settings = json.load(f)
    sample, batch, chemistry, mito_prefix = (settings[k] for k in ("sample", "batch", "chemistry", "mito_prefix"))

    # genome: the samplesheet's choice for a multi-genome (barnyard) HDF5 matrix; only its features are read
    genome = settings.get("genome")
    adata = read_matrix(a.matrix, genome)
    top = f"pct_counts_in_top_{TOP_GENES}_genes"
    ours = {"barcode", "sample", "batch", "n_genes_by_counts", "total_counts", "pct_counts_mt", "total_counts_mt", top, "doublet_score", "predicted_doublet"}
    extra = [c for c in adata.obs.columns if c not in ours]  # e.g. cell labels carried by an .h5ad input
    adata.obs["barcode"] = adata.obs_names.astype(str)
    adata.var["mt"] = adata.var_names.str.upper().str.startswith(mito_prefix.upper())
    sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], percent_top=[TOP_GENES], log1p=False, inplace=True)
    n_before = adata.n_obs

    counts, genes, mt = adata.obs["total_counts"].to_numpy(), adata.obs["n_genes_by_counts"].to_numpy(), adata.obs["pct_counts_mt"].to_numpy()
    pct_top = adata.obs[top].to_numpy()
    min_c, max_c = bounds(counts, a.nmads)
    min_g, max_g = bounds(genes, a.nmads)
    min_top, max_top = bounds(pct_top, a.nmads, log=False)
    _, max_mt = bounds(mt, a.mt_nmads, log=False)
    if a.max_pct_mt is not None:
        max_mt = a.max_pct_mt
    if a.pct_mt_ceiling is not None:
        max_mt = a.pct_mt_ceiling if max_mt is None else min(max_mt, a.pct_mt_ceiling)
    thresholds = {
        "min_counts": a.min_counts if a.min_counts is not None else min_c,
        "max_counts": a.max_counts if a.max_counts is not None else max_c,
        "min_genes": a.min_genes if a.min_genes is not None else min_g,
        "max_genes": a.max_genes if a.max_genes is not None else max_g,
        "max_pct_mt": max_mt,
        "min_pct_counts_top20": min_top,
        "max_pct_counts_top20": max_top,
    }
    skipped = qc_skips(thresholds, n_before)
    keep = np.ones(adata.n_obs, dtype=bool)
    for value, lo, hi in ((counts, "min_counts", "max_counts"), (genes, "min_genes", "max_genes"), (mt, None, "max_pct_mt"),
                           (pct_top, "min_pct_counts_top20", "max_pct_counts_top20")):
        if lo and thresholds[lo] is not None:
            keep &= value >= thresholds[lo]
        if thresholds[hi] is not None:
            keep &= value <= thresholds[hi]
    # Where no bound applies (no spread in the data), report the observed range so the thresholds stay numeric.
    observed = {"min_counts": counts.min(), "max_counts": counts.max(), "min_genes": genes.min(), "max_genes": genes.max(), "max_pct_mt": mt.max(),
                "min_pct_counts_top20": pct_top.min(), "max_pct_counts_top20": pct_top.max()} if n_before else {}
    thresholds = {k: float(v if v is not None else observed.get(k, 0)) for k, v in thresholds.items()}

    adata.obs["doublet_score"] = np.nan
    adata.obs["predicted_doublet"] = False
    n_kept = int(keep.sum())
    if a.doublets == "none":
        doublets = {"method": "none", "reason": "doublet_method none"}
    elif n_kept < SCRUBLET_MIN_CELLS:
        doublets = {"method": "none", "reason": f"{n_kept} cells after QC, fewer than the {SCRUBLET_MIN_CELLS} scrublet needs"}
    elif (n_genes := scrublet_genes(sub := adata[keep].copy())) < SCRUBLET_MIN_GENES:
        doublets = {"method": "none", "reason": f"scrublet would keep {n_genes} variable genes, fewer than the {SCRUBLET_MIN_GENES} its PCA needs"}
    else:
        doublets = call_doublets(sub, a, n_genes)
        adata.obs.loc[sub.obs_names, "doublet_score"] = sub.obs["doublet_score"]
        adata.obs.loc[sub.obs_names, "predicted_doublet"] = sub.obs["predicted_doublet"].astype(bool)
        if a.remove_doublets:
            keep &= ~adata.obs["predicted_doublet"].to_numpy(dtype=bool)

    if doublets["method"] == "none" and a.doublets != "none":
        skipped.append({"step": "doublets", "action": "skipped", "reason": doublets["reason"]})
    elif doublets.get("threshold_source") == "fallback":
        skipped.append({"step": "doublets", "action": "fallback", "reason": doublets["reason"]})
    kept = adata[keep].copy()
    kept.obs["sample"] = sample
    kept.obs["batch"] = batch
    kept.obs_names = [f"{sample}:{b}" for b in kept.obs["barcode"]]
    kept.obs = kept.obs[["barcode", "sample", "batch", "n_genes_by_counts", "total_counts", "pct_counts_mt", top, "doublet_score", "predicted_doublet", *extra]]
    kept.var = kept.var[["mt"]]
    # lzf, not gzip: an intermediate read once by INTEGRATE; lzf writes ~3x and reads ~2x faster at twice gzip's size
    kept.write_h5ad(f"{sample}.qc.h5ad", compression="lzf")

    raw = read_matrix(a.raw, genome) if a.raw else adata
    with open(f"{sample}.ranks.tsv", "w") as f:
        f.write("rank\tumi_count\tis_cell\n")
        for r, u, c in barcode_ranks(raw, adata.obs_names):
            f.write(f"{r}\t{u}\t{int(c)}\n")

    if a.count_metrics:
        with open(a.count_metrics) as f:
            metrics = json.load(f)
    else:
        # Matrix entry point: the counter's numbers are unknown; derive what the matrix itself shows.
        metrics = {
            "Estimated Number of Cells": n_before,
            "Median Genes per Cell": float(np.median(genes)) if n_before else 0,
            "Median UMI Counts per Cell": float(np.median(counts)) if n_before else 0,
            "Total Genes Detected": int((np.asarray(adata.X.sum(axis=0)).ravel() > 0).sum()),
        }
    registration = None
    if a.registration:
        with open(a.registration) as f:
            reg = json.load(f)
        registration = {k: reg[k] for k in ("lanes", "read_pairs", "r1_length", "r2_length", "files")}
    entry = {"sample": sample, "batch": batch, "chemistry": chemistry, "registration": registration, "metrics": metrics,
             "qc_thresholds": thresholds, "doublets": doublets, "skipped": skipped, "cells_before_qc": int(n_before), "cells_after_qc": int(kept.n_obs)}
    with open(f"{sample}.metrics.json", "w") as f:
        json.dump(entry, f, indent=2)
    print(f"{sample}: {n_before} cells -> {kept.n_obs} after QC; thresholds {thresholds}")


if __name__ == "__main__":
    main()
