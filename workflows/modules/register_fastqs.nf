// REGISTER: one registration record per sample (bin/register_fastqs.py). Every user value (sample, batch, lanes,
// original file names, index reads) arrives as the settings JSON on stdin; the FASTQs are staged under numbered
// names, so nothing from the samplesheet or a directory listing becomes script text. It has no stub: it reads
// the stub profile's tiny FASTQs in a moment and keeps the wiring honest.
process REGISTER_FASTQS {
    tag "${meta.id}"
    label 'process_single'

    input:
    // settings: {"sample", "batch", "row", "chemistry", "expected_cells", "index_reads": [names],
    //            "lanes": [{"lane", "r1", "r2"}]} with lanes in the order of r1 and r2
    tuple val(meta), path(r1, stageAs: 'r1/???'), path(r2, stageAs: 'r2/???'), stdin

    output:
    tuple val(meta), path("${meta.id}.registration.json"), emit: registration
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    """
    register_fastqs.py --settings - --r1 ${r1} --r2 ${r2}
    versions.py --process '${task.process}'
    """
}
