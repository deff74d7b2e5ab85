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


def is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def scan(path, name, read, where):
    """Returns (reads, length histogram, polyT count at 27-28, sha256, size) of one FASTQ; name is its original
    file name, for messages (the staged file has a neutral name, so gzip is recognised by its magic bytes)."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    gz = is_gzip(path)
    opener = gzip.open if gz else open
    n, lengths, polyt = 0, collections.Counter(), 0
    try:
        with opener(path, "rb") as f:
            while True:
                head = f.readline()
                if not head:
                    break
                seq, plus, qual = f.readline().rstrip(b"\r\n"), f.readline(), f.readline().rstrip(b"\r\n")
                if not head.startswith(b"@") or not plus.startswith(b"+") or len(seq) != len(qual):
                    fail(f"{where}: {name} record {n + 1} is not a FASTQ record (expected @header, sequence, +, quality of equal length)")
                n += 1
                lengths[len(seq)] += 1
                if read == "R1" and seq[26:28] == b"TT":
                    polyt += 1
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        fail(f"{where}: {name} is not a readable {'gzip ' if gz else ''}FASTQ file ({e})")
    if n == 0:
        fail(f"{where}: {name} holds no reads")
    return n, lengths, polyt, sha.hexdigest(), os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settings", required=True,
                    help="JSON ('-' for stdin): sample, batch, row, chemistry, expected_cells, index_reads [names], "
                         "lanes [{lane, r1, r2}] (original paths, in the order of --r1/--r2)")
    ap.add_argument("--r1", nargs="+", required=True, help="R1 file of each lane")
    ap.add_argument("--r2", nargs="+", required=True, help="R2 file of each lane")
    a = ap.parse_args()
    with (sys.stdin if a.settings == "-" else open(a.settings)) as f:
        s = json.load(f)
    lanes = s["lanes"]
    if not len(lanes) == len(a.r1) == len(a.r2):
        fail(f"settings list {len(lanes)} lane(s) but {len(a.r1)} R1 and {len(a.r2)} R2 files were given")
    where = f"samplesheet row {s['row']} (sample '{s['sample']}')"

    files, r1_len, r2_len, polyt, pairs = [], collections.Counter(), collections.Counter(), 0, 0
    for entry, r1, r2 in zip(lanes, a.r1, a.r2, strict=True):
        lane = entry["lane"]
        n1, l1, p1, s1, z1 = scan(r1, os.path.basename(entry["r1"]), "R1", where)
        n2, l2, _, s2, z2 = scan(r2, os.path.basename(entry["r2"]), "R2", where)
        if n1 != n2:
            fail(f"{where}: lane L{lane} has {n1} R1 reads but {n2} R2 reads; the pair is truncated or mismatched")
        files += [{"path": entry["r1"], "lane": lane, "read": "R1", "size": z1, "sha256": s1, "reads": n1},
                  {"path": entry["r2"], "lane": lane, "read": "R2", "size": z2, "sha256": s2, "reads": n2}]
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
    stated = s["chemistry"]
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
        "sample": s["sample"], "batch": s["batch"], "chemistry": chemistry, "chemistry_stated": stated, "chemistry_inferred": inferred,
        "expected_cells": s.get("expected_cells"), "lanes": len(lanes), "read_pairs": pairs, "r1_length": r1_length, "r2_length": r2_length,
        "r1_polyt_27_28_fraction": round(polyt_frac, 4), "index_reads": s.get("index_reads", []), "files": files,
    }
    with open(f"{s['sample']}.registration.json", "w") as f:
        json.dump(record, f, indent=2)
    print(f"{s['sample']}: {chemistry}, {len(lanes)} lane(s), {pairs} read pairs, R1 {r1_length} bp, R2 {r2_length} bp")


if __name__ == "__main__":
    main()
