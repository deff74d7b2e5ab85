// Normalise, batch-aware HVG, PCA, Harmony, neighbours, UMAP, Leiden and integration metrics (bin/integrate.py).
process SCANPY_INTEGRATE {
    label 'process_python'
    label 'process_high'

    input:
    path h5ads, stageAs: 'qc/*'
    path ranks, stageAs: 'ranks/*'
    path cell_labels
    val label_key

    output:
    path 'integrated.h5ad',      emit: h5ad
    path 'cells.arrow',          emit: cells
    path 'barcode_ranks.arrow',  emit: barcode_ranks
    path 'integration.json',     emit: metrics

    script:
    """
    ${ThreadEnv.exports(task.cpus)}
    integrate.py --h5ad ${h5ads} --ranks ${ranks} --batch-key ${params.batch_key} \\
        ${label_key ? "--label-key '${label_key}'" : ''} ${cell_labels.name != 'NO_LABELS' ? "--cell-labels ${cell_labels}" : ''} \\
        --min-cells-per-gene ${params.min_cells_per_gene} --n-top-genes ${params.n_top_genes} --n-pcs ${params.n_pcs} \\
        --harmony-theta ${params.harmony_theta} --n-neighbors ${params.n_neighbors} --leiden-resolution ${params.leiden_resolution} \\
        --seed ${params.seed}
    """

    stub:
    """
    touch integrated.h5ad cells.arrow barcode_ranks.arrow
    echo '{}' > integration.json
    """
}
