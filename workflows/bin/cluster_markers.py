#!/usr/bin/env python3
"""Marker genes of each cluster (integrate.py records them in integration.json, hence in the manifest)."""

import numpy as np
import scanpy as sc

MARKERS_PER_CLUSTER = 20


def finite(x):
    """A float for JSON, None where it is not finite (JSON has no NaN or infinity)."""
    return float(x) if np.isfinite(x) else None


def rank_markers(adata, key, top=MARKERS_PER_CLUSTER):
    """Marker genes of each cluster of obs[key] against all other cells: scanpy rank_genes_groups, Wilcoxon, on the
    log-normalised X. Clusters of one cell cannot be tested and are listed without genes; with fewer than two testable
    clusters nothing is ranked, and the reason is recorded."""
    sizes = adata.obs[key].value_counts()
    testable = sorted((str(c) for c, n in sizes.items() if n >= 2), key=lambda c: (len(c), c))
    out = {"key": key, "method": "wilcoxon", "layer": "log1p(normalize_total 1e4)", "reason": None, "clusters": []}
    if len(testable) < 2:
        out["reason"] = f"{len(testable)} cluster(s) with at least 2 cells: nothing to compare"
        return out
    sc.tl.rank_genes_groups(adata, key, groups=testable, reference="rest", method="wilcoxon", use_raw=False, pts=True,
                            key_added="markers")
    frames = {c: sc.get.rank_genes_groups_df(adata, group=c, key="markers").head(top) for c in testable}
    for c in sorted(map(str, sizes.index), key=lambda c: (len(c), c)):
        df = frames.get(c)
        genes = [] if df is None else [
            {"gene": str(r.names), "score": finite(r.scores), "logfoldchange": finite(r.logfoldchanges),
             "pval_adj": finite(r.pvals_adj), "pct_in": float(r.pct_nz_group), "pct_out": float(r.pct_nz_reference)}
            for r in df.itertuples()]
        out["clusters"].append({"cluster": c, "n_cells": int(sizes[c]), "genes": genes})
    return out
