// REGISTER: validated samplesheet records -> one registration JSON per sample; meta.chemistry becomes the
// registered (stated or inferred) chemistry.
include { REGISTER_FASTQS } from '../modules/register_fastqs'

workflow REGISTER {
    take:
    samples // channel: [meta, lanes] from Validation.fastqSheet, lanes = [[lane, r1, r2]]

    main:
    ch_in = samples.map { s ->
        def settings = [sample: s.meta.id, batch: s.meta.batch, row: s.meta.row, chemistry: s.meta.chemistry,
                        expected_cells: s.meta.expected_cells, index_reads: s.meta.index_reads,
                        lanes: s.lanes.collect { [lane: it[0], r1: it[1].toUriString(), r2: it[2].toUriString()] }]
        [s.meta, s.lanes.collect { it[1] }, s.lanes.collect { it[2] }, groovy.json.JsonOutput.toJson(settings)]
    }
    REGISTER_FASTQS(ch_in)
    registered = REGISTER_FASTQS.out.registration.map { meta, json ->
        def rec = new groovy.json.JsonSlurper().parse(json.toFile())
        [meta + [chemistry: rec.chemistry], json]
    }

    files = samples.map { s -> [s.meta.id, s.lanes.collect { it[1] }, s.lanes.collect { it[2] }] }
    reads = registered.map { meta, json -> [meta.id, meta] }.join(files).map { id, meta, r1, r2 -> [meta, r1, r2] }

    emit:
    registration = registered // [meta, registration.json]
    reads                     // [meta, [r1...], [r2...]]
    versions = REGISTER_FASTQS.out.versions // [process, container, versions.yml]
}
