// Per-sample QC, MAD outlier filtering, scrublet doublet scores and barcode ranks (bin/qc_sample.py).
process SCANPY_QC {
    tag "${meta.id}"
    label 'process_python'

    input:
    tuple val(meta), path(matrix, stageAs: 'filtered/*'), path(raw, stageAs: 'raw/*'), path(count_metrics), path(registration)

    output:
    tuple val(meta), path("${meta.id}.qc.h5ad"), emit: h5ad
    path "${meta.id}.ranks.tsv", emit: ranks
    tuple val(meta), path("${meta.id}.metrics.json"), emit: metrics

    script:
    def opt = { name, value -> value != null ? "--${name} ${value}" : '' }
    """
    ${ThreadEnv.exports(task.cpus)}
    qc_sample.py --sample '${meta.id}' --batch '${meta.batch}' --chemistry '${meta.chemistry}' --matrix ${matrix} \\
        ${raw.toString().endsWith('NO_RAW') ? '' : "--raw ${raw}"} \\
        ${count_metrics.name != 'NO_METRICS' ? "--count-metrics ${count_metrics}" : ''} \\
        ${registration.name != 'NO_REGISTRATION' ? "--registration ${registration}" : ''} \\
        --mito-prefix '${params.mito_prefix}' --nmads ${params.qc_nmads} --mt-nmads ${params.qc_mt_nmads} \\
        ${opt('max-pct-mt', params.max_pct_mt)} ${opt('min-genes', params.min_genes)} ${opt('max-genes', params.max_genes)} \\
        ${opt('min-counts', params.min_counts)} ${opt('max-counts', params.max_counts)} \\
        --doublets ${params.doublet_method} --doublet-threshold ${params.doublet_threshold} ${params.remove_doublets ? '--remove-doublets' : ''} --seed ${params.seed}
    """

    stub:
    """
    touch ${meta.id}.qc.h5ad
    printf 'rank\\tumi_count\\tis_cell\\n1\\t5\\t1\\n' > ${meta.id}.ranks.tsv
    echo '{"sample": "${meta.id}"}' > ${meta.id}.metrics.json
    """
}
