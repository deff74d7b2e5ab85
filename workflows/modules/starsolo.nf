// STARsolo with the CellRanger-3-matching flag set and EmptyDrops_CR cell calling (scrnaseq-facts §2),
// published in the shared count contract: raw/ and filtered/ 10x MTX (gzip) + metrics.json (CellRanger names).
process STARSOLO {
    tag "${meta.id}"
    label 'process_star'
    label 'process_high'

    input:
    tuple val(meta), path(r1, stageAs: 'r1/*'), path(r2, stageAs: 'r2/*')
    path index
    path whitelist

    output:
    tuple val(meta), path("${meta.id}/raw"), path("${meta.id}/filtered"), path("${meta.id}/metrics.json"), emit: counts
    tuple val(meta), path("${meta.id}/Summary.csv"), path("${meta.id}/Log.final.out"), emit: logs

    script:
    def umiLen = meta.chemistry == '10xv3' ? 12 : 10
    def cbLen = meta.chemistry == '10xv1' ? 14 : 16
    def wl = whitelist.name == 'NO_WHITELIST' ? 'None' : 'whitelist.txt'
    def feature = params.star_feature
    def expected = meta.expected_cells ?: params.expected_cells
    def r1s = (r1 instanceof List ? r1 : [r1]).join(',')
    def r2s = (r2 instanceof List ? r2 : [r2]).join(',')
    """
    ${wl == 'None' ? "echo 'WARNING: no barcode whitelist for ${meta.chemistry}; STARsolo runs with --soloCBwhitelist None' >&2" : "gzip -cdf ${whitelist} > whitelist.txt"}
    STAR --runThreadN ${task.cpus} --genomeDir ${index} --readFilesIn ${r2s} ${r1s} --readFilesCommand gzip -cdf \\
        --soloType CB_UMI_Simple --soloCBwhitelist ${wl} --soloCBstart 1 --soloCBlen ${cbLen} \\
        --soloUMIstart ${cbLen + 1} --soloUMIlen ${umiLen} --soloBarcodeReadLength 0 \\
        --soloCBmatchWLtype 1MM_multi_Nbase_pseudocounts --soloUMIfiltering MultiGeneUMI_CR --soloUMIdedup 1MM_CR \\
        --clipAdapterType CellRanger4 --outFilterScoreMin 30 \\
        --soloCellFilter EmptyDrops_CR ${expected} 0.99 10 ${params.emptydrops_ind_min} ${params.emptydrops_ind_max} ${params.emptydrops_umi_min} 0.01 20000 0.01 10000 \\
        --soloFeatures ${feature} --outSAMtype None --outFileNamePrefix star/
    mkdir -p ${meta.id}
    for kind in raw filtered; do
        mkdir ${meta.id}/\$kind
        for f in barcodes.tsv features.tsv matrix.mtx; do gzip -c star/Solo.out/${feature}/\$kind/\$f > ${meta.id}/\$kind/\$f.gz; done
    done
    cp star/Solo.out/${feature}/Summary.csv star/Log.final.out ${meta.id}/
    count_metrics.py --starsolo ${meta.id}/Summary.csv --out ${meta.id}/metrics.json
    """

    stub:
    """
    mkdir -p ${meta.id}/raw ${meta.id}/filtered
    for kind in raw filtered; do
        printf 'AAACCTGAGAAACCAT\\n' | gzip > ${meta.id}/\$kind/barcodes.tsv.gz
        printf 'G1\\tGENE1\\tGene Expression\\n' | gzip > ${meta.id}/\$kind/features.tsv.gz
        printf '%%%%MatrixMarket matrix coordinate integer general\\n1 1 1\\n1 1 5\\n' | gzip > ${meta.id}/\$kind/matrix.mtx.gz
    done
    echo '{"Estimated Number of Cells": 1}' > ${meta.id}/metrics.json
    touch ${meta.id}/Summary.csv ${meta.id}/Log.final.out
    """
}
