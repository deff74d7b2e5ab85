// COUNT: STARsolo (default) or CellRanger, both emitting [meta, raw/, filtered/, metrics.json].
include { STAR_GENOMEGENERATE } from '../modules/star_genomegenerate'
include { STARSOLO }            from '../modules/starsolo'
include { CELLRANGER_COUNT }    from '../modules/cellranger_count'

workflow COUNT {
    take:
    reads     // channel: [meta, [r1...], [r2...]] with meta.chemistry registered
    fasta     // channel: FASTA (or empty with --star_index)
    gtf       // channel: GTF

    main:
    if (params.counter == 'cellranger') {
        CELLRANGER_COUNT(reads, file(params.cellranger_index, checkIfExists: true))
        counts = CELLRANGER_COUNT.out.counts
    } else {
        index = params.star_index ? Channel.value(file(params.star_index, checkIfExists: true)) : STAR_GENOMEGENERATE(fasta, gtf).index
        STARSOLO(reads.map { meta, r1, r2 -> [meta, r1, r2, whitelistFor(meta.chemistry)] }, index)
        counts = STARSOLO.out.counts
    }

    emit:
    counts // [meta, raw, filtered, metrics.json]
}

// --barcode_whitelist wins; else the 10x list for the chemistry from --whitelist_dir; v3's 3M-february-2018 list
// is not bundled, so without one STARsolo runs with no whitelist ([] tells the module).
def whitelistFor(String chemistry) {
    if (params.barcode_whitelist) return file(params.barcode_whitelist, checkIfExists: true)
    def name = [ '10xv1': '10x_V1_barcode_whitelist.txt.gz', '10xv2': '10x_V2_barcode_whitelist.txt.gz', '10xv3': '10x_V3_barcode_whitelist.txt.gz' ][chemistry]
    def f = file("${params.whitelist_dir}/${name}")
    if (f.exists()) return f
    log.warn "No ${chemistry} whitelist at ${f}; STARsolo will run with --soloCBwhitelist None (give --barcode_whitelist)"
    []
}
