#!/usr/bin/env nextflow
/*
 * scrna-platform: 10x scRNA-seq FASTQs -> REGISTER -> COUNT (STARsolo | CellRanger) -> INTEGRATE (Scanpy + Harmony),
 * or count matrices -> INTEGRATE (--input_type matrix). Results end with <outdir>/manifest.json, written last.
 */
nextflow.enable.dsl = 2

include { SYNTHETIC_DATA } from './modules/synthetic_data'
include { REGISTER }       from './subworkflows/register'
include { COUNT }          from './subworkflows/count'
include { INTEGRATE }      from './subworkflows/integrate'

// Before any task: params against nextflow_schema.json (nextflow.config fills its defaults), then cross-parameter rules.
Validation.params(params, projectDir)
def problems = []
if (!params.input && !(params.synthetic_data && params.input_type == 'fastq')) problems << '--input: is required (a samplesheet CSV)'
if (params.input_type == 'fastq' && !params.synthetic_data) {
    if (params.stop_after != 'register' && params.counter == 'starsolo' && !params.star_index && !(params.fasta && params.gtf)) problems << '--fasta and --gtf (or --star_index): are required with --counter starsolo'
    if (params.stop_after != 'register' && params.counter == 'cellranger' && !params.cellranger_index) problems << '--cellranger_index: is required with --counter cellranger'
}
if (params.cell_labels && !params.label_key) problems << '--label_key: is required with --cell_labels (the column holding the labels)'
if (problems) Validation.fail('Invalid parameters', problems)
def fastqRows = params.input && params.input_type == 'fastq' ? Validation.fastqSheet(file(params.input), projectDir) : null
def matrixRows = params.input_type == 'matrix' ? Validation.matrixSheet(file(params.input), projectDir, session.config.env?.PATH as String) : null

workflow {
    labels = Channel.value(params.cell_labels ? file(params.cell_labels) : [])
    labelKey = params.label_key
    versions = Channel.empty() // [process, container, versions.yml] from every task
    if (matrixRows != null) {
        INTEGRATE(
            Channel.fromList(matrixRows).map { r -> [r.meta, r.matrix, r.raw ?: [], [], []] },
            labels,
            labelKey,
            params.mito_prefix,
        )
        versions = INTEGRATE.out.versions
    } else {
        if (fastqRows != null) {
            samples = Channel.fromList(fastqRows)
            fasta = params.fasta ? Channel.value(file(params.fasta)) : Channel.empty()
            gtf = params.gtf ? Channel.value(file(params.gtf)) : Channel.empty()
        } else {
            // -profile test without --input: generate the seeded synthetic data set inside the run.
            SYNTHETIC_DATA(file("${params.whitelist_dir}/10x_V2_barcode_whitelist.txt.gz", checkIfExists: true), params.synthetic_seed)
            samples = SYNTHETIC_DATA.out.samplesheet.flatMap { Validation.fastqSheet(it, projectDir) }
            fasta = SYNTHETIC_DATA.out.fasta
            gtf = SYNTHETIC_DATA.out.gtf
            versions = SYNTHETIC_DATA.out.versions
            if (!params.cell_labels) {
                labels = SYNTHETIC_DATA.out.truth
                labelKey = params.label_key ?: 'cell_type'
            }
        }
        REGISTER(samples)
        versions = versions.mix(REGISTER.out.versions)
        if (params.stop_after != 'register') {
            COUNT(REGISTER.out.reads, fasta, gtf, params.counter, params.star_index, params.cellranger_index, params.barcode_whitelist, params.whitelist_dir)
            versions = versions.mix(COUNT.out.versions)
        }
        if (params.stop_after == 'integrate') {
            registration = REGISTER.out.registration.map { meta, json -> [meta.id, json] }
            counts = COUNT.out.counts.map { meta, raw, filtered, metrics -> [meta.id, meta, filtered, raw, metrics] }
                .join(registration)
                .map { id, meta, filtered, raw, metrics, json -> [meta, filtered, raw, metrics, json] }
            INTEGRATE(counts, labels, labelKey, params.mito_prefix)
            versions = versions.mix(INTEGRATE.out.versions)
        }
    }
    // nf-core's collected software_versions.yml (and the image each process ran in), which the manifest carries.
    tasks = versions.map { process, container, yml -> [process, container, yml.text] }.toList()
    tasks.map { Provenance.softwareVersionsYaml(it, workflow) }
        .collectFile(name: Provenance.SOFTWARE_VERSIONS, storeDir: "${params.outdir}/pipeline_info")
    tasks.map { Provenance.containersYaml(it) }
        .collectFile(name: Provenance.CONTAINERS, storeDir: "${params.outdir}/pipeline_info")
}

workflow.onComplete {
    if (workflow.success && !workflow.stubRun && params.stop_after == 'integrate') Manifest.write(workflow, params, projectDir, log)
}
