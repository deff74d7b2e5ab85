#!/usr/bin/env python3
"""Registers one sample's FASTQs: readable (gzip or plain) FASTQ records, R1/R2 read counts equal per lane,
sizes, sha256 and read counts per file, R1/R2 lengths, and the chemistry, inferred from R1 or checked
against the samplesheet. Writes <sample>.registration.json; exits 1 with a message naming the sample's
samplesheet row when anything is wrong. Standard library only (runs in the starsolo image too).

Chemistry rule: R1 26 bp -> 10xv2 (CB 16 + UMI 10); R1 >= 28 bp -> 10xv3 (CB 16 + UMI 12), unless bases 27-28
are poly-T in most reads, which is 10xv2 read with two extra cycles (e.g. 10x's pbmc_1k_v2 run, R1 28 bp).
"""

import argparse
import collections
import gzip
import hashlib
import json
import os
import sys

POLYT_FRACTION = 0.75  # random v3 UMI bases give TT at 27-28 in ~1/16 of reads
CB_UMI = {"10xv1": 24, "10xv2": 26, "10xv3": 28}


def fail(msg):
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def scan(path, read, where):
    """Returns (reads, length histogram, polyT count at 27-28, sha256, size) of one FASTQ."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    opener = gzip.open if path.endswith(".gz") else open
    n, lengths, polyt = 0, collections.Counter(), 0
    try:
        with opener(path, "rb") as f:
            while True:
                head = f.readline()
                if not head:
                    break
                seq, plus, qual = f.readline().rstrip(b"\r\n"), f.readline(), f.readline().rstrip(b"\r\n")
                if not head.startswith(b"@") or not plus.startswith(b"+") or len(seq) != len(qual):
                    fail(f"{where}: {os.path.basename(path)} record {n + 1} is not a FASTQ record (expected @header, sequence, +, quality of equal length)")
                n += 1
                lengths[len(seq)] += 1
                if read == "R1" and seq[26:28] == b"TT":
                    polyt += 1
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        fail(f"{where}: {os.path.basename(path)} is not a readable {'gzip ' if path.endswith('.gz') else ''}FASTQ file ({e})")
    if n == 0:
        fail(f"{where}: {os.path.basename(path)} holds no reads")
    return n, lengths, polyt, sha.hexdigest(), os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--row", type=int, required=True, help="samplesheet row, for messages")
    ap.add_argument("--chemistry", default="auto")
    ap.add_argument("--expected-cells", type=int)
    ap.add_argument("--index-reads", default="", help="comma-separated I1/I2 file names (listed, not read)")
    ap.add_argument("--lane", nargs=4, action="append", required=True, metavar=("LANE", "R1", "R2", "ORIGINAL_NAMES"),
                    help="lane id, staged R1, staged R2, 'origR1|origR2'")
    a = ap.parse_args()
    where = f"samplesheet row {a.row} (sample '{a.sample}')"

    files, r1_len, r2_len, polyt, pairs = [], collections.Counter(), collections.Counter(), 0, 0
    for lane, r1, r2, names in a.lane:
        orig = names.split("|")
        n1, l1, p1, s1, z1 = scan(r1, "R1", where)
        n2, l2, _, s2, z2 = scan(r2, "R2", where)
        if n1 != n2:
            fail(f"{where}: lane L{lane} has {n1} R1 reads but {n2} R2 reads; the pair is truncated or mismatched")
        files += [{"path": orig[0], "lane": lane, "read": "R1", "size": z1, "sha256": s1, "reads": n1},
                  {"path": orig[1], "lane": lane, "read": "R2", "size": z2, "sha256": s2, "reads": n2}]
        r1_len.update(l1)
        r2_len.update(l2)
        polyt += p1
        pairs += n1

    r1_length, r2_length = r1_len.most_common(1)[0][0], r2_len.most_common(1)[0][0]
    polyt_frac = polyt / pairs
    if r1_length < 26:
        inferred = None
    elif r1_length < 28 or polyt_frac >= POLYT_FRACTION:
        inferred = "10xv2"
    else:
        inferred = "10xv3"
    stated = a.chemistry
    if stated == "auto":
        if inferred is None:
            fail(f"{where}: R1 is {r1_length} bp, too short for a 10x v2 (26 bp) or v3 (28 bp) barcode read; state the chemistry in the samplesheet")
        chemistry = inferred
    else:
        chemistry = stated
        if r1_length < CB_UMI[stated]:
            fail(f"{where}, column chemistry: samplesheet says {stated} (R1 >= {CB_UMI[stated]} bp) but R1 is {r1_length} bp"
                 + (f", which is {inferred}" if inferred else ""))
        if stated in ("10xv2", "10xv3") and inferred and inferred != stated:
            detail = f"bases 27-28 are poly-T in {polyt_frac:.0%} of reads" if stated == "10xv3" else f"bases 27-28 look like UMI (poly-T in only {polyt_frac:.0%} of reads)"
            fail(f"{where}, column chemistry: samplesheet says {stated} but R1 is {r1_length} bp and {detail}, which is {inferred}")

    record = {
        "sample": a.sample, "batch": a.batch, "chemistry": chemistry, "chemistry_stated": stated, "chemistry_inferred": inferred,
        "expected_cells": a.expected_cells, "lanes": len(a.lane), "read_pairs": pairs, "r1_length": r1_length, "r2_length": r2_length,
        "r1_polyt_27_28_fraction": round(polyt_frac, 4), "index_reads": [x for x in a.index_reads.split(",") if x], "files": files,
    }
    with open(f"{a.sample}.registration.json", "w") as f:
        json.dump(record, f, indent=2)
    print(f"{a.sample}: {chemistry}, {len(a.lane)} lane(s), {pairs} read pairs, R1 {r1_length} bp, R2 {r2_length} bp")


if __name__ == "__main__":
    main()
