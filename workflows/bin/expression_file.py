#!/usr/bin/env python3
"""Each gene's expression as a file a reader can slice one gene at a time (integrate.py writes it; the API reads it
with apache-arrow's file reader, seeking to one record batch through the file footer)."""

import numpy as np
import pyarrow as pa
import scipy.sparse as sp


def write_expression(x, genes, expression_path="expression.arrow", genes_path="genes.arrow"):
    """x: cells x genes (sparse or dense), genes: their names. Each gene's non-zero values, CSC order: record batch g of
    an Arrow IPC file holds gene g's cells (uint32 rows of cells.arrow, ascending) and values (float32), so a reader
    fetches one gene through the file footer without reading the rest. genes.arrow: row g = record batch g (gene,
    expressing cells, maximum)."""
    csc = sp.csc_matrix(x, dtype=np.float32)
    csc.eliminate_zeros()
    csc.sort_indices()
    n_obs, n_vars = csc.shape
    schema = pa.schema([("cell", pa.uint32()), ("value", pa.float32())],
                       metadata={"n_cells": str(n_obs), "cells": "rows of cells.arrow"})
    n_cells = np.diff(csc.indptr).astype(np.int32)
    maxima = np.zeros(n_vars, dtype=np.float32)
    with pa.OSFile(expression_path, "wb") as sink, pa.ipc.new_file(sink, schema) as w:
        for g in range(n_vars):
            lo, hi = csc.indptr[g], csc.indptr[g + 1]
            values = csc.data[lo:hi]
            if hi > lo:
                maxima[g] = values.max()
            w.write_batch(pa.record_batch([pa.array(csc.indices[lo:hi].astype(np.uint32)), pa.array(values)], schema=schema))
    index = pa.table({"gene": pa.array([str(g) for g in genes], pa.utf8()), "n_cells": pa.array(n_cells), "max": pa.array(maxima)},
                     metadata={"n_cells": str(n_obs)})
    with pa.OSFile(genes_path, "wb") as sink, pa.ipc.new_file(sink, index.schema) as w:
        w.write_table(index)
