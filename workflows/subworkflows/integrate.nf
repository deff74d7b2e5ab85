// INTEGRATE: per-sample QC -> integration of all samples. Works from COUNT's output or from user matrices.
include { SCANPY_QC }        from '../modules/scanpy_qc'
include { SCANPY_INTEGRATE } from '../modules/scanpy_integrate'

workflow INTEGRATE {
    take:
    counts       // channel: [meta, filtered, raw|NO_RAW, metrics.json|NO_METRICS, registration.json|NO_REGISTRATION]
    cell_labels  // channel: labels CSV or NO_LABELS
    label_key    // val: label column or null

    main:
    SCANPY_QC(counts)
    SCANPY_INTEGRATE(
        SCANPY_QC.out.h5ad.map { it[1] }.collect(),
        SCANPY_QC.out.ranks.collect(),
        cell_labels,
        label_key,
    )

    emit:
    h5ad           = SCANPY_INTEGRATE.out.h5ad
    cells          = SCANPY_INTEGRATE.out.cells
    barcode_ranks  = SCANPY_INTEGRATE.out.barcode_ranks
    integration    = SCANPY_INTEGRATE.out.metrics
    sample_metrics = SCANPY_QC.out.metrics
}
