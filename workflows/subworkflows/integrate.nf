// INTEGRATE: per-sample QC -> integration of all samples. Works from COUNT's output or from user matrices.
include { SCANPY_QC }        from '../modules/scanpy_qc'
include { SCANPY_INTEGRATE } from '../modules/scanpy_integrate'

workflow INTEGRATE {
    take:
    counts       // channel: [meta, filtered, raw|[], metrics.json|[], registration.json|[]]
    cell_labels  // channel: labels CSV or []
    label_key    // val: label column or null
    mito_prefix  // val: gene-name prefix of mitochondrial genes

    main:
    // Free-text values reach the steps as JSON on stdin, never as script text.
    SCANPY_QC(counts.map { meta, filtered, raw, metrics, registration ->
        def settings = [sample: meta.id, batch: meta.batch, chemistry: meta.chemistry, mito_prefix: mito_prefix, genome: meta.genome]
        [meta, filtered, raw, metrics, registration, groovy.json.JsonOutput.toJson(settings)]
    })
    SCANPY_INTEGRATE(
        SCANPY_QC.out.h5ad.map { it[1] }.collect(),
        SCANPY_QC.out.ranks.collect(),
        cell_labels,
        groovy.json.JsonOutput.toJson([label_key: label_key]),
    )

    emit:
    h5ad           = SCANPY_INTEGRATE.out.h5ad
    cells          = SCANPY_INTEGRATE.out.cells
    barcode_ranks  = SCANPY_INTEGRATE.out.barcode_ranks
    integration    = SCANPY_INTEGRATE.out.metrics
    sample_metrics = SCANPY_QC.out.metrics
    versions       = SCANPY_QC.out.versions.mix(SCANPY_INTEGRATE.out.versions) // [process, container, versions.yml]
}
