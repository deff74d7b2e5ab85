// `cellranger count` in the user-built scrna/cellranger image (licensed; AWS only). FASTQs are staged under
// bcl2fastq names for --sample sample; outputs are mapped onto the same contract as STARSOLO.
process CELLRANGER_COUNT {
    tag "${meta.id}"
    label 'process_cellranger'
    label 'process_high'

    input:
    tuple val(meta), path(r1, stageAs: 'fastq/sample_S1_L00?_R1_001.fastq.gz'), path(r2, stageAs: 'fastq/sample_S1_L00?_R2_001.fastq.gz')
    path reference

    output:
    tuple val(meta), path("${meta.id}/raw"), path("${meta.id}/filtered"), path("${meta.id}/metrics.json"), emit: counts
    tuple val(meta), path("${meta.id}/metrics_summary.csv"), path("${meta.id}/web_summary.html"), emit: logs

    script:
    def chemistry = [ '10xv1': 'SC3Pv1', '10xv2': 'SC3Pv2', '10xv3': 'SC3Pv3' ][meta.chemistry]
    def expected = meta.expected_cells ?: params.expected_cells
    """
    cellranger count --id=cr --transcriptome=${reference} --fastqs=fastq --sample=sample --chemistry=${chemistry} \\
        --expect-cells=${expected} --create-bam=false --localcores=${task.cpus} --localmem=${task.memory.toGiga()} --disable-ui
    mkdir -p ${meta.id}
    cp -r cr/outs/raw_feature_bc_matrix ${meta.id}/raw
    cp -r cr/outs/filtered_feature_bc_matrix ${meta.id}/filtered
    cp cr/outs/metrics_summary.csv cr/outs/web_summary.html ${meta.id}/
    count_metrics.py --cellranger ${meta.id}/metrics_summary.csv --out ${meta.id}/metrics.json
    """

    stub:
    """
    mkdir -p ${meta.id}/raw ${meta.id}/filtered
    for kind in raw filtered; do
        printf 'AAACCTGAGAAACCAT-1\\n' | gzip > ${meta.id}/\$kind/barcodes.tsv.gz
        printf 'G1\\tGENE1\\tGene Expression\\n' | gzip > ${meta.id}/\$kind/features.tsv.gz
        printf '%%%%MatrixMarket matrix coordinate integer general\\n1 1 1\\n1 1 5\\n' | gzip > ${meta.id}/\$kind/matrix.mtx.gz
    done
    printf '"Estimated Number of Cells","Valid Barcodes"\\n"1","97.1%%"\\n' > ${meta.id}/metrics_summary.csv
    count_metrics.py --cellranger ${meta.id}/metrics_summary.csv --out ${meta.id}/metrics.json
    touch ${meta.id}/web_summary.html
    """
}
