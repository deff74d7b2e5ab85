// COUNT: STARsolo (default) or CellRanger, both emitting [meta, raw/, filtered/, metrics.json].
include { STAR_GENOMEGENERATE } from '../modules/star_genomegenerate'
include { STARSOLO }            from '../modules/starsolo'
include { CELLRANGER_COUNT }    from '../modules/cellranger_count'

workflow COUNT {
    take:
    reads             // channel: [meta, [r1...], [r2...]] with meta.chemistry registered
    fasta             // channel: FASTA (or empty with star_index)
    gtf               // channel: GTF
    counter           // val: 'starsolo' or 'cellranger'
    star_index        // val: prebuilt STAR index or null (built from fasta + gtf)
    cellranger_index  // val: CellRanger reference (with counter cellranger)
    barcode_whitelist // val: whitelist for every sample, or null (the 10x list for each chemistry from whitelist_dir)
    whitelist_dir     // val: folder of 10x_V{1,2,3}_barcode_whitelist.txt.gz

    main:
    versions = Channel.empty()
    if (counter == 'cellranger') {
        CELLRANGER_COUNT(reads, file(cellranger_index, checkIfExists: true))
        counts = CELLRANGER_COUNT.out.counts
        versions = CELLRANGER_COUNT.out.versions
    } else {
        if (star_index) {
            index = Channel.value(file(star_index, checkIfExists: true))
        } else {
            STAR_GENOMEGENERATE(fasta, gtf)
            index = STAR_GENOMEGENERATE.out.index
            versions = STAR_GENOMEGENERATE.out.versions
        }
        STARSOLO(reads.map { meta, r1, r2 -> [meta, r1, r2, whitelistFor(meta.chemistry, barcode_whitelist, whitelist_dir)] }, index)
        counts = STARSOLO.out.counts
        versions = versions.mix(STARSOLO.out.versions)
    }

    emit:
    counts   // [meta, raw, filtered, metrics.json]
    versions // [process, container, versions.yml]
}

// The given whitelist wins; else the 10x list for the chemistry; v3's 3M-february-2018 list is not bundled, so
// without one STARsolo runs with no whitelist ([] tells the module).
def whitelistFor(String chemistry, given, String dir) {
    if (given) return file(given, checkIfExists: true)
    def name = [ '10xv1': '10x_V1_barcode_whitelist.txt.gz', '10xv2': '10x_V2_barcode_whitelist.txt.gz', '10xv3': '10x_V3_barcode_whitelist.txt.gz' ][chemistry]
    def f = file("${dir}/${name}")
    if (f.exists()) return f
    log.warn "No ${chemistry} whitelist at ${f}; STARsolo will run with --soloCBwhitelist None (give --barcode_whitelist)"
    []
}
