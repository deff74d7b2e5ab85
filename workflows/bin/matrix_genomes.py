#!/usr/bin/env python3
"""The genomes a 10x HDF5 matrix holds, as JSON on stdout ({"genomes": [...]}): CellRanger >= 3 files list each
feature's genome in matrix/features/genome; CellRanger <= 2 files hold one group per genome (barcodes, data,
indices, indptr, shape, genes, gene_names). The workflow runs this before any task to refuse a barnyard matrix
without a `genome` column, and qc_sample.py applies the same rule."""

import argparse
import json

import h5py


def genomes(path):
    with h5py.File(path, "r") as f:
        if "matrix" in f:
            feats = f["matrix"].get("features")
            if feats is None or "genome" not in feats:
                return []
            return sorted({g.decode() if isinstance(g, bytes) else str(g) for g in feats["genome"][()]})
        return sorted(k for k, v in f.items() if isinstance(v, h5py.Group) and "data" in v and "indptr" in v)


def choose(path, genome):
    """The genome to read from path (None: the file holds at most one); SystemExit naming the genomes otherwise."""
    found = genomes(path)
    if genome is None:
        if len(found) > 1:
            raise SystemExit(f"ERROR: {path} holds {len(found)} genomes ({', '.join(found)}); set the samplesheet's genome column to one of them")
        return None
    if genome not in found:
        raise SystemExit(f"ERROR: {path} has no genome '{genome}' (it holds {', '.join(found) or 'no genome names'})")
    return genome


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("h5")
    print(json.dumps({"genomes": genomes(ap.parse_args().h5)}))


if __name__ == "__main__":
    main()
