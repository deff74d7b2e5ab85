import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.Files
import java.nio.file.Path
import java.security.MessageDigest

/**
 * Writes <outdir>/manifest.json from workflow.onComplete, after every task and publication has finished, so the
 * manifest is the last file of a run: the API ingests a run from this one file. Checksums are of the published
 * copies. The trace file is still open at this point, so it is not listed (the API reads it by its fixed path).
 */
class Manifest {
    static String sha256(Path p) {
        def md = MessageDigest.getInstance('SHA-256')
        p.withInputStream { in -> byte[] buf = new byte[1 << 20]; int n; while ((n = in.read(buf)) > 0) md.update(buf, 0, n) }
        md.digest().encodeHex().toString()
    }

    /** Every published file, with the kind and sample that assets/outputs.json (the output layout) gives its path. */
    static List<Map> outputs(Path outdir, Path projectDir) {
        def layout = new JsonSlurper().parse(projectDir.resolve('assets/outputs.json').toFile())
        def rules = layout.files.collect { [java.util.regex.Pattern.compile(it.path as String), it.kind] }
        def dirs = (layout.publish.values()*.dir.collect { (it as String).tokenize('/')[0] } + ['pipeline_info']).unique()
        List<Map> out = []
        dirs.each { dir ->
            def base = outdir.resolve(dir)
            if (!Files.isDirectory(base)) return
            Files.walk(base).withCloseable { stream ->
                stream.filter { Files.isRegularFile(it) }.sorted().forEach { Path p ->
                    def rel = outdir.relativize(p).toString()
                    if (rel == 'pipeline_info/trace.txt') return
                    def hit = rules.findResult { re, kind -> def m = re.matcher(rel); m.find() ? [m, kind] : null }
                    String sample = hit && hit[0].pattern().pattern().contains('(?<sample>') ? hit[0].group('sample') : null
                    out << [path: rel, kind: hit ? hit[1] : 'other', sample: sample, size: Files.size(p), sha256: sha256(p)]
                }
            }
        }
        out
    }

    /** The steps of assets/methods.json that this run's params select, each with its method, its params' values and its reference. */
    static Map methods(Map params, Path projectDir) {
        def steps = new JsonSlurper().parse(projectDir.resolve('assets/methods.json').toFile()).steps
        steps.findAll { s -> (s.when ?: [:]).every { k, v -> params[k] == v } }.collectEntries { s ->
            [s.step, [method: s.method, parameters: s.params.collectEntries { [it, params[it]] }, reference: s.reference]]
        }
    }

    static void write(workflow, Map params, Path projectDir, log) {
        def outdir = nextflow.Nextflow.file(params.outdir as String) as Path
        def slurp = { Path p -> new JsonSlurper().parseText(p.text) }
        def info = outdir.resolve('pipeline_info')
        Files.createDirectories(info)
        Map cleanParams = params.findAll { k, v -> !(k as String).contains('-') }.collectEntries { k, v -> [k, v instanceof Path ? v.toString() : v] }
        info.resolve('params.json').text = JsonOutput.prettyPrint(JsonOutput.toJson(cleanParams))
        def sampleDir = outdir.resolve('integration/samples')
        List samples = Files.isDirectory(sampleDir) ? Files.list(sampleDir).withCloseable { s -> s.filter { it.fileName.toString().endsWith('.metrics.json') }.sorted().collect(java.util.stream.Collectors.toList()) }.collect { slurp(it) } : []
        samples.each { if (!(it.chemistry in ['10xv1', '10xv2', '10xv3'])) it.chemistry = null }
        def manifest = [
            schema_version: '1.1',
            workflow: [
                name: workflow.manifest.name, version: workflow.manifest.version, nextflow_version: workflow.nextflow.version.toString(),
                run_name: workflow.runName, session_id: workflow.sessionId.toString(),
                counter: params.input_type == 'matrix' ? null : params.counter, profile: workflow.profile,
                started_at: workflow.start.toInstant().toString(), completed_at: (workflow.complete ?: java.time.OffsetDateTime.now()).toInstant().toString(),
            ],
            provenance: Provenance.of(workflow, outdir, projectDir),
            params: cleanParams,
            samples: samples,
            integration: slurp(outdir.resolve('integration/integration.json')).subMap(['n_cells', 'n_genes', 'n_clusters', 'batch_key', 'label_key', 'metrics', 'leiden_resolution', 'clusterings', 'markers', 'skipped']),
            methods: methods(cleanParams, projectDir),
            outputs: outputs(outdir, projectDir),
        ]
        def errors = JsonSchema.load(projectDir.resolve('assets/manifest.schema.json')).validate(manifest)
        def json = JsonOutput.prettyPrint(JsonOutput.toJson(manifest))
        if (errors) {
            outdir.resolve('manifest.invalid.json').text = json
            log.error "manifest does not match assets/manifest.schema.json, written as manifest.invalid.json: ${errors.collect { "${it[0]}: ${it[1]}" }.join('; ')}"
            return
        }
        // Write beside and rename, so a reader never sees a half-written manifest.
        def tmp = outdir.resolve('.manifest.json.tmp')
        tmp.text = json
        Files.move(tmp, outdir.resolve('manifest.json'), java.nio.file.StandardCopyOption.REPLACE_EXISTING)
        Files.deleteIfExists(outdir.resolve('manifest.invalid.json'))
        log.info "manifest: ${outdir.resolve('manifest.json')} (${manifest.outputs.size()} outputs)"
    }
}
