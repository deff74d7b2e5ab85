#!/usr/bin/env python3
"""Integration of the QC'd samples: normalise, batch-aware HVG (seurat_v3 on raw counts by default), PCA, Harmony
on the batch key, neighbours, UMAP, Leiden at several resolutions, and integration quality (iLISI/cLISI,
ARI/NMI) before and after Harmony at each resolution. Sparse throughout: counts stay CSR, PCA uses scanpy's
implicit centring, Harmony works on PCs.

Writes integrated.h5ad, cells.arrow (Arrow IPC file, one row per cell), barcode_ranks.arrow, integration.json (the
manifest's integration block, with the marker genes of each Leiden cluster), and each gene's log-normalised expression
as expression.arrow (one record batch per gene: the expressing cells' rows of cells.arrow and their values) with its
gene index genes.arrow (row i names record batch i)."""

import argparse
import json
import os
import sys
import warnings

import anndata as ad
import harmonypy
import numpy as np
import pandas as pd
import pyarrow as pa
import scanpy as sc
from scib_metrics import clisi_knn, ilisi_knn
from scib_metrics.nearest_neighbors import NeighborsResults
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.neighbors import NearestNeighbors

from cluster_markers import rank_markers
from expression_file import write_expression

warnings.filterwarnings("ignore", category=FutureWarning)
LISI_K = 90  # scib's default neighbourhood (3 x perplexity 30), capped by the cell count below
# LISI is a median over cells: a seeded sample of query cells estimates it closely at a fraction of an all-cells search
# (300k cells: 20k x 300k distances instead of 300k x 300k).
LISI_CELLS = 20_000
# Up to here an exact brute-force search beats pynndescent for the 15-NN graph (100k cells: 16 s vs 25 s with its ~15 s
# numba compile); above, pynndescent wins (300k: 35 s vs ~140 s).
EXACT_KNN_MAX_CELLS = 100_000
HVG_SPANS = (0.3, 0.5, 1.0)  # seurat_v3's loess span: scanpy's default, then wider ones if the fit is singular
# Below these a 2-component PCA, a kNN graph and a UMAP layout cannot be made at all.
MIN_CELLS = 10
MIN_GENES = 3


def check_size(adata, min_cells_per_gene):
    """Stops with a message (not a traceback) when the QC'd cells cannot be embedded at all."""
    if adata.n_obs < MIN_CELLS or adata.n_vars < MIN_GENES:
        raise SystemExit(f"ERROR: {adata.n_obs} cells and {adata.n_vars} genes (detected in >= {min_cells_per_gene} cells) after QC; "
                         f"integration needs at least {MIN_CELLS} cells and {MIN_GENES} genes")


def integration_skips(a, adata, n_top, n_pcs, span, batch_key, labels):
    """The steps this data could not support as asked: skipped, clamped or run with a fallback, each with its reason
    (integration.json's skipped, shown by the UI beside the run's results)."""
    out = []
    if n_top < a.n_top_genes:
        out.append({"step": "hvg", "action": "clamped", "reason": f"n_top_genes {a.n_top_genes} -> {n_top}: only {adata.n_vars} genes are detected in >= {a.min_cells_per_gene} cells"})
    if span is None and a.hvg_flavor == "seurat_v3":
        out.append({"step": "hvg", "action": "fallback", "reason": f"seurat_v3's loess is singular at every span {HVG_SPANS}: all {adata.n_vars} genes are used"})
    elif span is not None and span != HVG_SPANS[0]:
        out.append({"step": "hvg", "action": "fallback", "reason": f"seurat_v3's loess is singular at span {HVG_SPANS[0]}: fitted with span {span}"})
    if n_pcs < a.n_pcs:
        out.append({"step": "pca", "action": "clamped", "reason": f"n_pcs {a.n_pcs} -> {n_pcs}: {int(adata.var['highly_variable'].sum())} highly variable genes, {adata.n_obs} cells"})
    if batch_key is None:
        out.append({"step": "integration", "action": "skipped", "reason": f"one {a.batch_key} ({adata.obs[a.batch_key].iloc[0]}): Harmony has nothing to integrate; the graph, UMAP and Leiden use the PCs"})
        out.append({"step": "metrics", "action": "skipped", "reason": f"iLISI: one {a.batch_key}, no batch mixing to measure"})
    if a.n_neighbors > adata.n_obs - 1:
        out.append({"step": "neighbours", "action": "clamped", "reason": f"n_neighbors {a.n_neighbors} -> {adata.n_obs - 1}: {adata.n_obs} cells"})
    if labels is None:
        out.append({"step": "metrics", "action": "skipped", "reason": "ARI/NMI: no cell labels (--label_key); cLISI uses the clusters"})
    return out


def knn_transformer(n_cells):
    return "sklearn" if n_cells <= EXACT_KNN_MAX_CELLS else "pynndescent"


def lisi_neighbors(emb, seed):
    """Exact LISI_K nearest neighbours, among all cells, of every cell or of LISI_CELLS drawn at random."""
    n = emb.shape[0]
    query = emb if n <= LISI_CELLS else emb[np.sort(np.random.default_rng(seed).choice(n, LISI_CELLS, replace=False))]
    dist, idx = NearestNeighbors(n_neighbors=min(LISI_K, n - 1), algorithm="brute").fit(emb).kneighbors(query)
    return NeighborsResults(indices=idx, distances=dist)


def quality(emb, batches, labels, clusters, seed=0, nn=None):
    """iLISI/cLISI (scib-metrics, 0..1) and, with labels, ARI/NMI of the clusters; nn: lisi_neighbors(emb), reused
    across the clusterings of one embedding."""
    nn = nn if nn is not None else lisi_neighbors(emb, seed)
    out = {"ilisi": float(ilisi_knn(nn, batches)) if len(np.unique(batches)) > 1 else None}
    ref = labels if labels is not None else clusters
    out["clisi"] = float(clisi_knn(nn, ref)) if len(np.unique(ref)) > 1 else 1.0
    if labels is not None:
        out["ari"] = float(adjusted_rand_score(labels, clusters))
        out["nmi"] = float(normalized_mutual_info_score(labels, clusters))
    return out


def leiden_key(prefix, resolution):
    return f"{prefix}_r{resolution:g}"


def cluster(adata, rep, a, key, resolutions):
    """kNN graph + Leiden at each resolution, in obs as leiden[_<key>]_r<resolution>; key None is scanpy's default
    graph (used by UMAP), else a side graph. Returns {resolution: cluster labels}."""
    sc.pp.neighbors(adata, use_rep=rep, n_neighbors=min(a.n_neighbors, adata.n_obs - 1), random_state=a.seed, key_added=key,
                    transformer=knn_transformer(adata.n_obs))
    prefix = f"leiden_{key}" if key else "leiden"
    out = {}
    for r in resolutions:
        sc.tl.leiden(adata, resolution=r, flavor="igraph", n_iterations=2, random_state=a.seed, neighbors_key=key,
                     key_added=leiden_key(prefix, r))
        out[r] = adata.obs[leiden_key(prefix, r)].astype(str).to_numpy()
    # The default resolution also under the plain name, which the UI and earlier consumers colour by.
    adata.obs[prefix] = adata.obs[leiden_key(prefix, a.leiden_resolution)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--h5ad", nargs="+", required=True)
    ap.add_argument("--ranks", nargs="+", required=True, help="<sample>.ranks.tsv files")
    ap.add_argument("--batch-key", default="batch")
    ap.add_argument("--settings", required=True, help="JSON ('-' for stdin): label_key (cell label column or null)")
    ap.add_argument("--cell-labels", help="CSV with sample, barcode and the label-key column")
    ap.add_argument("--min-cells-per-gene", type=int, default=3)
    ap.add_argument("--hvg-flavor", choices=["seurat_v3", "seurat"], default="seurat_v3")
    ap.add_argument("--n-top-genes", type=int, default=2000)
    ap.add_argument("--n-pcs", type=int, default=30)
    ap.add_argument("--harmony-theta", type=float, default=2.0)
    ap.add_argument("--n-neighbors", type=int, default=15)
    ap.add_argument("--leiden-resolution", type=float, default=1.0, help="the default clustering (obs/cells column leiden)")
    ap.add_argument("--leiden-resolutions", type=float, nargs="*", default=[], help="further resolutions, kept side by side")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    resolutions = sorted({*a.leiden_resolutions, a.leiden_resolution})
    with (sys.stdin if a.settings == "-" else open(a.settings)) as f:
        label_key = json.load(f).get("label_key")

    parts = [sc.read_h5ad(p) for p in sorted(a.h5ad)]
    adata = ad.concat(parts, join="outer", fill_value=0, merge="first")
    adata.obs["sample"] = adata.obs["sample"].astype("category")
    adata.obs["batch"] = adata.obs["batch"].astype("category")
    labels = None
    if label_key:
        if a.cell_labels:
            lab = pd.read_csv(a.cell_labels, dtype=str)
            lab.index = lab["sample"] + ":" + lab["barcode"]
            adata.obs[label_key] = lab[label_key].reindex(adata.obs_names).to_numpy()
        if label_key not in adata.obs:
            raise SystemExit(f"ERROR: --label_key {label_key} is not a column of the matrices' cell metadata nor of --cell_labels")
        labels = adata.obs[label_key].astype(str).fillna("unlabelled").to_numpy()
        adata.obs[label_key] = pd.Categorical(labels)

    sc.pp.filter_genes(adata, min_cells=a.min_cells_per_gene)
    check_size(adata, a.min_cells_per_gene)
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    n_top = min(a.n_top_genes, adata.n_vars)
    batch_key = a.batch_key if adata.obs[a.batch_key].nunique() > 1 else None
    # seurat_v3 models the variance of raw counts (loess on mean-variance, scikit-misc) per batch and ranks genes by
    # the number of batches that select them; seurat is dispersion on the log-normalised data.
    if a.hvg_flavor == "seurat_v3":
        # skmisc's loess goes singular ("reciprocal condition number") on a batch with few distinct gene means, e.g.
        # 150 cells of a 500-gene panel; a wider span than scanpy's 0.3 fits it, and the span used is recorded.
        for span in HVG_SPANS:
            try:
                sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat_v3", batch_key=batch_key, layer="counts", span=span)
                break
            except ValueError as e:
                if span == HVG_SPANS[-1]:
                    # too few distinct gene means for any loess fit (a small panel): every gene is variable enough
                    span = None
                    adata.var["highly_variable"] = True
                    break
                print(f"seurat_v3 loess with span {span} failed ({e}); trying a wider span", file=sys.stderr)
    else:
        span = None
        sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat", batch_key=batch_key)
    n_pcs = max(2, min(a.n_pcs, int(adata.var["highly_variable"].sum()) - 1, adata.n_obs - 1))
    sc.pp.pca(adata, n_comps=n_pcs, mask_var="highly_variable", random_state=a.seed)

    batches = adata.obs[a.batch_key].astype(str).to_numpy()
    before_clusters = cluster(adata, "X_pca", a, "unintegrated", resolutions)
    before_nn = lisi_neighbors(adata.obsm["X_pca"], a.seed)
    if batch_key:
        # harmonypy directly: scanpy 1.11's wrapper transposes Z_corr, which harmonypy 2 already returns cells x PCs.
        ho = harmonypy.run_harmony(adata.obsm["X_pca"], adata.obs[[a.batch_key]], [a.batch_key], theta=a.harmony_theta,
                                   random_state=a.seed, verbose=False)
        z = np.asarray(ho.Z_corr)
        adata.obsm["X_pca_harmony"] = z if z.shape[0] == adata.n_obs else z.T
    else:
        adata.obsm["X_pca_harmony"] = adata.obsm["X_pca"].copy()
    after_clusters = cluster(adata, "X_pca_harmony", a, None, resolutions)
    after_nn = lisi_neighbors(adata.obsm["X_pca_harmony"], a.seed)
    sc.tl.umap(adata, random_state=a.seed)

    def metrics(r):
        before = quality(adata.obsm["X_pca"], batches, labels, before_clusters[r], a.seed, before_nn)
        after = quality(adata.obsm["X_pca_harmony"], batches, labels, after_clusters[r], a.seed, after_nn)
        return {k: None if labels is None and k in ("ari", "nmi") else {"before": before.get(k), "after": after.get(k)}
                for k in ("ilisi", "clisi", "ari", "nmi")}

    clusterings = [{"resolution": r, "key": leiden_key("leiden", r), "n_clusters": int(len(np.unique(after_clusters[r]))),
                    "metrics": metrics(r)} for r in resolutions]
    default = next(c for c in clusterings if c["resolution"] == a.leiden_resolution)
    integration = {
        "n_cells": int(adata.n_obs), "n_genes": int(adata.n_vars), "n_clusters": default["n_clusters"],
        "batch_key": a.batch_key, "label_key": label_key if labels is not None else None,
        "metrics": default["metrics"], "leiden_resolution": a.leiden_resolution, "clusterings": clusterings,
        "harmony": batch_key is not None, "n_pcs": n_pcs, "n_hvg": int(adata.var["highly_variable"].sum()),
        "hvg_flavor": a.hvg_flavor, "hvg_span": span, "hvg_batch_key": batch_key,
        "markers": rank_markers(adata, "leiden"),
        "skipped": integration_skips(a, adata, n_top, n_pcs, span, batch_key, labels),
    }
    write_expression(adata.X, adata.var_names)
    adata.write_h5ad("integrated.h5ad", compression="gzip")

    obs = adata.obs
    cols = {
        "barcode": pa.array(obs["barcode"].astype(str).to_numpy(), pa.utf8()),
        "sample": pa.array(obs["sample"].astype(str).to_numpy()).dictionary_encode(),
        "batch": pa.array(obs["batch"].astype(str).to_numpy()).dictionary_encode(),
        "n_genes": pa.array(obs["n_genes_by_counts"].to_numpy(dtype=np.int32)),
        "total_counts": pa.array(obs["total_counts"].to_numpy(dtype=np.float32)),
        "pct_counts_mt": pa.array(obs["pct_counts_mt"].to_numpy(dtype=np.float32)),
        "pct_counts_in_top_20_genes": pa.array(obs["pct_counts_in_top_20_genes"].to_numpy(dtype=np.float32)),
        "doublet_score": pa.array(obs["doublet_score"].to_numpy(dtype=np.float32)),
        "leiden": pa.array(obs["leiden"].astype(str).to_numpy()).dictionary_encode(),
        "umap_x": pa.array(adata.obsm["X_umap"][:, 0].astype(np.float32)),
        "umap_y": pa.array(adata.obsm["X_umap"][:, 1].astype(np.float32)),
        "leiden_unintegrated": pa.array(obs["leiden_unintegrated"].astype(str).to_numpy()).dictionary_encode(),
        **{c["key"]: pa.array(obs[c["key"]].astype(str).to_numpy()).dictionary_encode() for c in clusterings},
    }
    if labels is not None:
        cols[label_key] = pa.array(labels).dictionary_encode()
    table = pa.table(cols)
    with pa.OSFile("cells.arrow", "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)

    frames = []
    for p in sorted(a.ranks):
        df = pd.read_csv(p, sep="\t")
        df.insert(0, "sample", os.path.basename(p).removesuffix(".ranks.tsv"))
        frames.append(df)
    ranks = pd.concat(frames)
    rt = pa.table({
        "sample": pa.array(ranks["sample"].to_numpy()).dictionary_encode(),
        "rank": pa.array(ranks["rank"].to_numpy(dtype=np.int32)),
        "umi_count": pa.array(ranks["umi_count"].to_numpy(dtype=np.int32)),
        "is_cell": pa.array(ranks["is_cell"].to_numpy(dtype=bool)),
    })
    with pa.OSFile("barcode_ranks.arrow", "wb") as sink, pa.ipc.new_file(sink, rt.schema) as w:
        w.write_table(rt)
    with open("integration.json", "w") as f:
        json.dump(integration, f, indent=2)
    print(json.dumps(integration["metrics"]))


if __name__ == "__main__":
    main()
