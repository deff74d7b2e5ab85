#!/usr/bin/env python3
"""Writes a counter's run summary as metrics.json keyed by CellRanger metrics_summary.csv names, values as
numbers (percentages as fractions 0..1), so STARsolo and CellRanger runs compare side by side.
Standard library only: it runs inside the starsolo and cellranger images."""

import argparse
import csv
import json

# CellRanger name <- STARsolo Solo.out/Gene/Summary.csv name (scrnaseq-facts §3 mapping).
STARSOLO = {
    "Estimated Number of Cells": "Estimated Number of Cells",
    "Median Genes per Cell": "Median Gene per Cell",
    "Number of Reads": "Number of Reads",
    "Valid Barcodes": "Reads With Valid Barcodes",
    "Sequencing Saturation": "Sequencing Saturation",
    "Q30 Bases in Barcode": "Q30 Bases in CB+UMI",
    "Q30 Bases in UMI": "Q30 Bases in CB+UMI",
    "Q30 Bases in RNA Read": "Q30 Bases in RNA read",
    "Reads Mapped to Genome": "Reads Mapped to Genome: Unique+Multiple",
    "Reads Mapped Confidently to Genome": "Reads Mapped to Genome: Unique",
    "Reads Mapped Confidently to Transcriptome": "Reads Mapped to Gene: Unique Gene",
    "Fraction Reads in Cells": "Fraction of Unique Reads in Cells",
    "Total Genes Detected": "Total Gene Detected",
    "Median UMI Counts per Cell": "Median UMI per Cell",
}


def number(text):
    """'93.5%' -> 0.935, '1,234' -> 1234, '0.5' -> 0.5; None for a word (STARsolo writes 'NoMulti')."""
    t = text.strip().replace(",", "")
    if not t.lstrip("-").replace(".", "", 1).rstrip("%").isdigit():
        return None
    if t.endswith("%"):
        return round(float(t[:-1]) / 100, 6)
    v = float(t)
    return int(v) if v.is_integer() else v


def starsolo(path):
    with open(path) as f:
        summary = {k.strip(): number(v) for k, v in csv.reader(f) if k.strip()}
    out = {cr: summary[solo] for cr, solo in STARSOLO.items() if summary.get(solo) is not None}
    cells = out.get("Estimated Number of Cells") or 0
    # CellRanger's definition: all sequenced reads over called cells (STARsolo's own counts only reads in cells).
    out["Mean Reads per Cell"] = round(summary["Number of Reads"] / cells) if cells else 0
    return out


def cellranger(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    values = {k: number(v) for k, v in zip(rows[0], rows[1], strict=True)}
    return {k: v for k, v in values.items() if v is not None}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--starsolo", help="Solo.out/<feature>/Summary.csv")
    src.add_argument("--cellranger", help="outs/metrics_summary.csv")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    metrics = starsolo(a.starsolo) if a.starsolo else cellranger(a.cellranger)
    with open(a.out, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
