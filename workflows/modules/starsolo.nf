// STARsolo with the CellRanger-3-matching flag set and EmptyDrops_CR cell calling (scrnaseq-facts §2),
// published in the shared count contract: raw/ and filtered/ 10x MTX (gzip) + metrics.json (CellRanger names).
// Inputs are staged under fixed names and outputs written under fixed names (publishDir adds the sample), so the
// script text holds no user value: only numbers and the chemistry's barcode geometry.
process STARSOLO {
    tag "${meta.id}"
    label 'process_star'
    label 'process_high'

    input:
    // whitelist: plain or gzip, or [] for none (no barcode correction)
    tuple val(meta), path(r1, stageAs: 'r1/???'), path(r2, stageAs: 'r2/???'), path(whitelist, stageAs: 'whitelist.in')
    path index, stageAs: 'index'

    output:
    tuple val(meta), path('raw'), path('filtered'), path('metrics.json'), emit: counts
    tuple val(meta), path('Summary.csv'), path('Features.stats'), path('Log.final.out'), emit: logs
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    def geometry = [ '10xv1': [14, 10], '10xv2': [16, 10], '10xv3': [16, 12] ][meta.chemistry]
    if (!geometry) error "STARSOLO ${meta.id}: no barcode geometry for chemistry ${meta.chemistry}"
    def (cbLen, umiLen) = geometry
    def args = task.ext.args ?: '' // conf/modules.config: --soloCellFilter EmptyDrops_CR ..., --soloFeatures
    """
    ${whitelist ? 'gzip -cdf < whitelist.in > whitelist.txt' : "echo 'WARNING: no barcode whitelist for this chemistry; STARsolo runs with --soloCBwhitelist None' >&2"}
    STAR --runThreadN ${task.cpus} --genomeDir index --readFilesIn ${[r2].flatten().join(',')} ${[r1].flatten().join(',')} --readFilesCommand gzip -cdf \\
        --soloType CB_UMI_Simple --soloCBwhitelist ${whitelist ? 'whitelist.txt' : 'None'} --soloCBstart 1 --soloCBlen ${cbLen} \\
        --soloUMIstart ${cbLen + 1} --soloUMIlen ${umiLen} --soloBarcodeReadLength 0 \\
        --soloCBmatchWLtype 1MM_multi_Nbase_pseudocounts --soloUMIfiltering MultiGeneUMI_CR --soloUMIdedup 1MM_CR \\
        --clipAdapterType CellRanger4 --outFilterScoreMin 30 --outSAMtype None --outFileNamePrefix star/ ${args}
    solo=\$(ls -d star/Solo.out/Gene*/)  # the one --soloFeatures folder
    for kind in raw filtered; do
        mkdir \$kind
        for f in barcodes.tsv features.tsv matrix.mtx; do gzip -c \$solo/\$kind/\$f > \$kind/\$f.gz; done
    done
    cp \$solo/Summary.csv \$solo/Features.stats star/Log.final.out .
    count_metrics.py --starsolo Summary.csv --out metrics.json
    versions.py --process '${task.process}' --tool star=\$(STAR --version)
    """

    stub:
    """
    for kind in raw filtered; do
        mkdir \$kind
        printf 'AAACCTGAGAAACCAT\\n' | gzip > \$kind/barcodes.tsv.gz
        printf 'G1\\tGENE1\\tGene Expression\\n' | gzip > \$kind/features.tsv.gz
        printf '%%%%MatrixMarket matrix coordinate integer general\\n1 1 1\\n1 1 5\\n' | gzip > \$kind/matrix.mtx.gz
    done
    echo '{"Estimated Number of Cells": 1}' > metrics.json
    touch Summary.csv Features.stats Log.final.out
    versions.py --process '${task.process}' --tool star=\$(STAR --version)
    """
}
