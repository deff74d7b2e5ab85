// REGISTER: one registration record per sample (bin/register_fastqs.py).
process REGISTER_FASTQS {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), val(lanes), path(r1, stageAs: 'r1/*'), path(r2, stageAs: 'r2/*')

    output:
    tuple val(meta), path("${meta.id}.registration.json"), emit: registration

    script:
    def r1s = r1 instanceof List ? r1 : [r1]
    def r2s = r2 instanceof List ? r2 : [r2]
    def lanesArg = lanes.withIndex().collect { l, i -> "--lane ${l[0]} '${r1s[i]}' '${r2s[i]}' '${l[1]}|${l[2]}'" }.join(' ')
    """
    register_fastqs.py --sample '${meta.id}' --batch '${meta.batch}' --row ${meta.row} --chemistry ${meta.chemistry} \\
        ${meta.expected_cells ? "--expected-cells ${meta.expected_cells}" : ''} --index-reads '${meta.index_reads.join(',')}' ${lanesArg}
    """

    stub:
    def chem = meta.chemistry == 'auto' ? '10xv2' : meta.chemistry
    """
    cat > ${meta.id}.registration.json <<'JSON'
    {"sample": "${meta.id}", "batch": "${meta.batch}", "chemistry": "${chem}", "lanes": ${lanes.size()}, "read_pairs": 0, "r1_length": 26, "r2_length": 90, "files": []}
    JSON
    """
}
