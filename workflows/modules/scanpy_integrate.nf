// Normalise, batch-aware HVG, PCA, Harmony, neighbours, UMAP, Leiden, integration metrics, marker genes per cluster and
// the per-gene expression file (bin/integrate.py).
// The label column (free text) arrives as the settings JSON on stdin and inputs are reached through globs over
// their staging folders, so the script text holds no user value.
process SCANPY_INTEGRATE {
    label 'process_python'
    label 'process_high'

    input:
    path h5ads, stageAs: 'qc/*'
    path ranks, stageAs: 'ranks/*'
    path cell_labels, stageAs: 'cell_labels.csv' // [] without a labels CSV
    stdin                                         // settings: {"label_key": column or null}

    output:
    path 'integrated.h5ad',      emit: h5ad
    path 'cells.arrow',          emit: cells
    path 'barcode_ranks.arrow',  emit: barcode_ranks
    path 'integration.json',     emit: metrics
    path 'expression.arrow',     emit: expression // one record batch per gene (rows of genes.arrow)
    path 'genes.arrow',          emit: genes
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    def args = task.ext.args ?: '' // conf/modules.config: batch key, HVG, PCA, Harmony, neighbours, Leiden, seed
    """
    ${ThreadEnv.exports(task.cpus)}
    integrate.py --settings - --h5ad qc/* --ranks ranks/* ${cell_labels ? '--cell-labels cell_labels.csv' : ''} ${args}
    versions.py --process '${task.process}' --dist scanpy anndata numpy scipy pandas scikit-learn scikit-misc harmonypy igraph leidenalg umap-learn pynndescent scib-metrics pyarrow
    """

    stub:
    """
    touch integrated.h5ad cells.arrow barcode_ranks.arrow expression.arrow genes.arrow
    echo '{}' > integration.json
    versions.py --process '${task.process}' --dist scanpy anndata numpy scipy pandas scikit-learn scikit-misc harmonypy igraph leidenalg umap-learn pynndescent scib-metrics pyarrow
    """
}
