#!/usr/bin/env python3
"""Seeded synthetic 10x v2 data set with known truth, small enough for a 2-core test run.

Writes genome.fa + genes.gtf (a random-sequence chromosome with two-exon genes on both strands and a chrM
with MT- genes), 10x v2 FASTQs (R1 = 16 bp barcode from the real 737K-august-2016 whitelist + 10 bp UMI;
R2 = 90 bp from the 3' end of the transcript, sense strand) for several samples in two batches, cell types
with distinct marker genes, a per-gene multiplicative batch effect, empty droplets holding ambient molecules,
a few damaged (high mitochondrial) cells, substitution sequencing errors, and the truth: truth.csv
(sample, batch, barcode, is_cell, cell_type, true_umis), true_counts.tsv.gz (sample, barcode, gene_id, count) and
markers.csv (cell_type, gene_id, gene_name: the genes each type expresses 12x above the others).
"""

import argparse
import gzip
import os

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
COMP = np.zeros(256, dtype=np.uint8)
for a, b in zip(b"ACGTN", b"TGCAN", strict=True):
    COMP[a] = b
CELL_TYPES = ["T_cell", "B_cell", "Monocyte", "NK_cell"]
MT_GENES = ["MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3", "MT-ND3", "MT-ND4L", "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB"]


def random_seq(rng, n):
    return BASES[rng.integers(0, 4, n)]


def build_genome(rng, n_genes):
    """Return (chromosomes {name: uint8 array}, genes [dict], transcripts uint8 matrix padded, lengths)."""
    chunks, genes, pos = [], [], 0
    for g in range(n_genes):
        gap, e1, intron, e2 = 400, int(rng.integers(300, 500)), int(rng.integers(200, 400)), int(rng.integers(600, 900))
        chunks.append(random_seq(rng, gap))
        start = pos + gap
        chunks.append(random_seq(rng, e1 + intron + e2))
        strand = "+" if g % 2 == 0 else "-"
        exons = [(start, start + e1), (start + e1 + intron, start + e1 + intron + e2)]  # 0-based half-open
        genes.append({"id": f"SYNG{g + 1:04d}", "name": f"GENE{g + 1:03d}", "chrom": "chr1", "strand": strand, "exons": exons})
        pos = start + e1 + intron + e2
    chunks.append(random_seq(rng, 400))
    chroms = {"chr1": np.concatenate(chunks)}
    mt, mpos = [random_seq(rng, 100)], 100
    for name in MT_GENES:
        length = int(rng.integers(400, 700))
        mt.append(random_seq(rng, length))
        genes.append({"id": f"SYNMT{len(genes):04d}", "name": name, "chrom": "chrM", "strand": "+", "exons": [(mpos, mpos + length)]})
        mt.append(random_seq(rng, 60))
        mpos += length + 60
    chroms["chrM"] = np.concatenate(mt)
    seqs = []
    for gene in genes:
        s = np.concatenate([chroms[gene["chrom"]][a:b] for a, b in gene["exons"]])
        seqs.append(COMP[s[::-1]] if gene["strand"] == "-" else s)
    lengths = np.array([len(s) for s in seqs])
    tx = np.full((len(seqs), lengths.max()), ord("N"), dtype=np.uint8)
    for i, s in enumerate(seqs):
        tx[i, : len(s)] = s
    return chroms, genes, tx, lengths


def write_reference(out, chroms, genes):
    with open(os.path.join(out, "genome.fa"), "w") as f:
        for name, seq in chroms.items():
            f.write(f">{name}\n")
            s = seq.tobytes().decode()
            f.write("\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n")
    with open(os.path.join(out, "genes.gtf"), "w") as f:
        for g in genes:
            attrs = f'gene_id "{g["id"]}"; gene_name "{g["name"]}"; gene_biotype "protein_coding";'
            lo, hi = g["exons"][0][0] + 1, g["exons"][-1][1]
            f.write(f"{g['chrom']}\tsynthetic\tgene\t{lo}\t{hi}\t.\t{g['strand']}\t.\t{attrs}\n")
            tattrs = attrs + f' transcript_id "{g["id"]}.1";'
            f.write(f"{g['chrom']}\tsynthetic\ttranscript\t{lo}\t{hi}\t.\t{g['strand']}\t.\t{tattrs}\n")
            for n, (a, b) in enumerate(g["exons"], 1):
                f.write(f'{g["chrom"]}\tsynthetic\texon\t{a + 1}\t{b}\t.\t{g["strand"]}\t.\t{tattrs} exon_number "{n}";\n')


def expression_profiles(rng, n_genes, n_mt, markers_per_type):
    """Relative expression per cell type (rows) over nuclear + MT genes."""
    base = rng.lognormal(0.0, 0.8, n_genes)
    profiles = np.tile(base, (len(CELL_TYPES), 1))
    order = rng.permutation(n_genes)
    markers = {}
    for t in range(len(CELL_TYPES)):
        markers[CELL_TYPES[t]] = order[t * markers_per_type : (t + 1) * markers_per_type]
        profiles[t, markers[CELL_TYPES[t]]] *= 12.0
    profiles /= profiles.sum(axis=1, keepdims=True)
    mt = rng.lognormal(0.0, 0.5, n_mt)
    return profiles, mt / mt.sum(), markers


def sample_molecules(rng, probs, n):
    return rng.choice(len(probs), size=n, p=probs)


def fastq_records(names, seqs, quals):
    lines = []
    for name, s, q in zip(names, seqs, quals, strict=True):
        lines.append(b"@" + name + b"\n" + s + b"\n+\n" + q + b"\n")
    return b"".join(lines)


def add_errors(rng, arr, rate):
    hit = rng.random(arr.shape) < rate
    arr[hit] = BASES[rng.integers(0, 4, int(hit.sum()))]
    qual = np.full(arr.shape, ord("F"), dtype=np.uint8)
    qual[hit] = ord(",")  # erroneous bases get low quality, as a real base caller would mostly give
    return arr, qual


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--whitelist", required=True, help="10x v2 whitelist (737K-august-2016), plain or gzip")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--cells", type=int, default=300, help="cells per sample")
    ap.add_argument("--empties", type=int, default=3000, help="empty droplets (ambient only) per sample")
    ap.add_argument("--genes", type=int, default=60, help="nuclear genes")
    ap.add_argument("--mean-umis", type=float, default=900.0)
    ap.add_argument("--error-rate", type=float, default=0.002)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.outdir, exist_ok=True)

    chroms, genes, tx, lengths = build_genome(rng, a.genes)
    write_reference(a.outdir, chroms, genes)
    n_mt = len(MT_GENES)
    profiles, mt_profile, markers = expression_profiles(rng, a.genes, n_mt, markers_per_type=8)
    batch_effect = {"batchA": np.ones(a.genes), "batchB": rng.lognormal(0.0, 0.6, a.genes)}

    opener = gzip.open if a.whitelist.endswith(".gz") else open
    with opener(a.whitelist, "rt") as f:
        whitelist = np.array(f.read().split())
    per_sample = a.cells + a.empties
    barcodes = rng.choice(whitelist, size=a.samples * per_sample, replace=False)

    truth_rows, count_rows, sheet = [], [], ["sample,batch,fastqs,chemistry,expected_cells"]
    for s in range(a.samples):
        sample, batch = f"SYN{s + 1}", ("batchA" if s % 2 == 0 else "batchB")
        bcs = barcodes[s * per_sample : (s + 1) * per_sample]
        mix = np.array([0.4, 0.25, 0.2, 0.15]) if s % 2 == 0 else np.array([0.3, 0.2, 0.3, 0.2])
        types = rng.choice(len(CELL_TYPES), size=a.cells, p=mix)
        sizes = np.maximum(200, rng.lognormal(np.log(a.mean_umis), 0.35, a.cells)).astype(int)
        damaged = rng.random(a.cells) < 0.03
        mt_frac = np.where(damaged, rng.uniform(0.3, 0.5, a.cells), rng.beta(3, 97, a.cells))
        cell_gene, cell_idx = [], []
        counts = np.zeros((a.cells, a.genes + n_mt), dtype=np.int64)
        for c in range(a.cells):
            n_mt_mol = rng.binomial(sizes[c], mt_frac[c])
            p = profiles[types[c]] * batch_effect[batch]
            g = np.concatenate([sample_molecules(rng, p / p.sum(), sizes[c] - n_mt_mol), a.genes + sample_molecules(rng, mt_profile, n_mt_mol)])
            counts[c] = np.bincount(g, minlength=a.genes + n_mt)
            cell_gene.append(g)
            cell_idx.append(np.full(len(g), c))
        # Ambient pool = what lysed cells release: the average cell profile of this sample.
        ambient = counts.sum(axis=0) / counts.sum()
        amb_sizes = np.minimum(rng.geometric(0.12, a.empties), 60)
        for e in range(a.empties):
            g = sample_molecules(rng, ambient, amb_sizes[e])
            cell_gene.append(g)
            cell_idx.append(np.full(len(g), a.cells + e))
        mol_gene = np.concatenate(cell_gene)
        mol_drop = np.concatenate(cell_idx)
        mol_umi = rng.integers(0, 4, (len(mol_gene), 10))
        # 10x fragments after amplification: each read of a molecule has its own R2 start near the 3' end.
        n_reads = 1 + rng.poisson(0.6, len(mol_gene))
        r_mol = np.repeat(np.arange(len(mol_gene)), n_reads)
        r_gene = mol_gene[r_mol]
        offset = np.minimum(rng.geometric(1 / 120, len(r_mol)), lengths[r_gene] - 90)
        start = lengths[r_gene] - 90 - offset
        r2 = tx[r_gene[:, None], start[:, None] + np.arange(90)[None, :]]
        cb = np.array([np.frombuffer(b.encode(), dtype=np.uint8) for b in bcs])[mol_drop[r_mol]]
        r1 = np.concatenate([cb, BASES[mol_umi[r_mol]]], axis=1)
        r1, q1 = add_errors(rng, r1, a.error_rate)
        r2, q2 = add_errors(rng, r2, a.error_rate)
        order = rng.permutation(len(r_mol))
        fqdir = os.path.join(a.outdir, "fastq", sample)
        os.makedirs(fqdir, exist_ok=True)
        n_lanes = 2 if s == 0 else 1
        for lane, idx in enumerate(np.array_split(order, n_lanes), 1):
            names = [f"SYN:{sample}:{lane}:{i}".encode() for i in idx]
            for read, seq, qual in (("R1", r1, q1), ("R2", r2, q2)):
                path = os.path.join(fqdir, f"{sample}_S{s + 1}_L{lane:03d}_{read}_001.fastq.gz")
                with gzip.open(path, "wb", compresslevel=1) as f:
                    f.write(fastq_records(names, [x.tobytes() for x in seq[idx]], [x.tobytes() for x in qual[idx]]))
        sheet.append(f"{sample},{batch},{os.path.abspath(fqdir)},10xv2,{a.cells}")
        for c in range(a.cells):
            truth_rows.append(f"{sample},{batch},{bcs[c]},true,{CELL_TYPES[types[c]]},{sizes[c]}")
            for gi in np.nonzero(counts[c])[0]:
                count_rows.append(f"{sample}\t{bcs[c]}\t{genes[gi]['id']}\t{counts[c, gi]}")
        for e in range(a.empties):
            truth_rows.append(f"{sample},{batch},{bcs[a.cells + e]},false,,{amb_sizes[e]}")

    with open(os.path.join(a.outdir, "samplesheet.csv"), "w") as f:
        f.write("\n".join(sheet) + "\n")
    with open(os.path.join(a.outdir, "truth.csv"), "w") as f:
        f.write("sample,batch,barcode,is_cell,cell_type,true_umis\n" + "\n".join(truth_rows) + "\n")
    with gzip.open(os.path.join(a.outdir, "true_counts.tsv.gz"), "wt") as f:
        f.write("sample\tbarcode\tgene_id\tcount\n" + "\n".join(count_rows) + "\n")
    with open(os.path.join(a.outdir, "markers.csv"), "w") as f:
        f.write("cell_type,gene_id,gene_name\n")
        f.writelines(f"{t},{genes[g]['id']},{genes[g]['name']}\n" for t, gs in markers.items() for g in sorted(gs))


if __name__ == "__main__":
    main()
