// Per-sample QC, MAD outlier filtering, scrublet doublet scores and barcode ranks (bin/qc_sample.py).
// User values (sample, batch, chemistry, mito prefix) arrive as the settings JSON on stdin and matrices are
// reached through globs over their staging folders, so the script text holds no user value.
process SCANPY_QC {
    tag "${meta.id}"
    label 'process_python'

    input:
    // raw, count_metrics, registration: [] when absent (matrix entry point). settings: {"sample", "batch",
    // "chemistry", "mito_prefix", "genome" (null, or the genome of a multi-genome .h5 matrix)}
    tuple val(meta), path(matrix, stageAs: 'filtered/*'), path(raw, stageAs: 'raw/*'), path(count_metrics, stageAs: 'count_metrics.json'), path(registration, stageAs: 'registration.json'), stdin

    output:
    tuple val(meta), path("${meta.id}.qc.h5ad"), emit: h5ad
    path "${meta.id}.ranks.tsv", emit: ranks
    tuple val(meta), path("${meta.id}.metrics.json"), emit: metrics
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    def args = task.ext.args ?: '' // conf/modules.config: MAD bounds, fixed thresholds, doublets, seed
    """
    ${ThreadEnv.exports(task.cpus)}
    qc_sample.py --settings - --matrix filtered/* ${raw ? '--raw raw/*' : ''} \\
        ${count_metrics ? '--count-metrics count_metrics.json' : ''} ${registration ? '--registration registration.json' : ''} ${args}
    versions.py --process '${task.process}' --dist scanpy anndata numpy scipy scikit-learn
    """

    stub:
    // Output names come from the settings (data), not from script text.
    """
    python3 -c '
import json, sys
s = json.load(sys.stdin)
open(s["sample"] + ".qc.h5ad", "w").close()
open(s["sample"] + ".ranks.tsv", "w").write("rank\\tumi_count\\tis_cell\\n1\\t5\\t1\\n")
json.dump({"sample": s["sample"]}, open(s["sample"] + ".metrics.json", "w"))
'
    versions.py --process '${task.process}' --dist scanpy anndata numpy scipy scikit-learn
    """
}
