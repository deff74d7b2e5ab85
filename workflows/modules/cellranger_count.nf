// `cellranger count` in the user-built scrna/cellranger image (licensed; AWS only). FASTQs are staged under
// bcl2fastq names for --sample sample and the reference under a fixed name; outputs are written under fixed names
// (publishDir adds the sample) in the same contract as STARSOLO, so the script text holds no user value.
process CELLRANGER_COUNT {
    tag "${meta.id}"
    label 'process_cellranger'
    label 'process_high'

    input:
    tuple val(meta), path(r1, stageAs: 'fastq/sample_S1_L00?_R1_001.fastq.gz'), path(r2, stageAs: 'fastq/sample_S1_L00?_R2_001.fastq.gz')
    path reference, stageAs: 'reference'

    output:
    tuple val(meta), path('raw'), path('filtered'), path('metrics.json'), emit: counts
    tuple val(meta), path('metrics_summary.csv'), path('web_summary.html'), emit: logs
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    def chemistry = [ '10xv1': 'SC3Pv1', '10xv2': 'SC3Pv2', '10xv3': 'SC3Pv3' ][meta.chemistry]
    if (!chemistry) error "CELLRANGER_COUNT ${meta.id}: no cellranger chemistry for ${meta.chemistry}"
    def args = task.ext.args ?: '' // conf/modules.config: --expect-cells
    """
    cellranger count --id=cr --transcriptome=reference --fastqs=fastq --sample=sample --chemistry=${chemistry} \\
        ${args} --create-bam=false --localcores=${task.cpus} --localmem=${task.memory.toGiga()} --disable-ui
    cp -r cr/outs/raw_feature_bc_matrix raw
    cp -r cr/outs/filtered_feature_bc_matrix filtered
    cp cr/outs/metrics_summary.csv cr/outs/web_summary.html .
    count_metrics.py --cellranger metrics_summary.csv --out metrics.json
    versions.py --process '${task.process}' --tool cellranger="\$(cellranger --version 2>&1 | sed -n 's/^cellranger[ -]*//p' | head -n 1)"
    """

    stub:
    """
    for kind in raw filtered; do
        mkdir \$kind
        printf 'AAACCTGAGAAACCAT-1\\n' | gzip > \$kind/barcodes.tsv.gz
        printf 'G1\\tGENE1\\tGene Expression\\n' | gzip > \$kind/features.tsv.gz
        printf '%%%%MatrixMarket matrix coordinate integer general\\n1 1 1\\n1 1 5\\n' | gzip > \$kind/matrix.mtx.gz
    done
    printf '"Estimated Number of Cells","Valid Barcodes"\\n"1","97.1%%"\\n' > metrics_summary.csv
    count_metrics.py --cellranger metrics_summary.csv --out metrics.json
    touch web_summary.html
    versions.py --process '${task.process}' --tool cellranger=stub
    """
}
