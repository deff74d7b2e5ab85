import java.nio.file.Files
import java.nio.file.Path
import org.yaml.snakeyaml.DumperOptions
import org.yaml.snakeyaml.Yaml

/**
 * What made a run's results: each process's tool versions (nf-core's versions.yml, collected into
 * pipeline_info/software_versions.yml keyed by the process's simple name, plus a `Workflow` entry), the container
 * image each process ran in (pipeline_info/containers.yml; none on the local executor), and, for the manifest,
 * Nextflow's version and the pipeline's git revision when it is known.
 */
class Provenance {
    static final String SOFTWARE_VERSIONS = 'software_versions.yml'
    static final String CONTAINERS = 'containers.yml'

    private static String dump(Map m) {
        def opts = new DumperOptions()
        opts.defaultFlowStyle = DumperOptions.FlowStyle.BLOCK
        new Yaml(opts).dump(m)
    }

    private static String simpleName(String process) { process.tokenize(':').last() }

    /** tasks: [process, container, versions.yml text] of every task; one entry per process (its tasks agree). */
    static String softwareVersionsYaml(List tasks, workflow) {
        Map<String, Map> out = new TreeMap()
        tasks.each { process, container, text ->
            def parsed = new Yaml().load(text as String) as Map
            parsed.each { k, tools -> out[simpleName(k as String)] = new TreeMap(tools as Map) }
        }
        out['Workflow'] = [Nextflow: workflow.nextflow.version.toString(), (workflow.manifest.name): workflow.manifest.version]
        dump(out)
    }

    static String containersYaml(List tasks) {
        Map<String, String> out = new TreeMap()
        tasks.each { process, container, text -> if (container) out[simpleName(process as String)] = container as String }
        out ? dump(out) : '{}\n'
    }

    private static Map readYaml(Path p) {
        Files.exists(p) ? ((new Yaml().load(p.text) ?: [:]) as Map) : [:]
    }

    /** The commit the pipeline ran from: Nextflow's own for a pulled pipeline, else the checkout's HEAD if it is one. */
    static Map revision(workflow, Path projectDir) {
        if (workflow.commitId) return [commit: workflow.commitId, revision: workflow.revision, repository: workflow.repository, dirty: false]
        def git = { List<String> args ->
            try {
                def p = (['git', '-C', projectDir.toString()] + args).execute()
                def out = new StringBuilder()
                p.waitForProcessOutput(out, new StringBuilder()) // git answers these at once; this also drains its output
                p.exitValue() == 0 ? out.toString().trim() : null
            } catch (IOException ignored) {
                null // no git on this host
            }
        }
        def commit = git(['rev-parse', 'HEAD'])
        if (!commit) return [commit: null, revision: null, repository: null, dirty: null]
        [commit: commit, revision: git(['rev-parse', '--abbrev-ref', 'HEAD']), repository: null, dirty: git(['status', '--porcelain', '--untracked-files=no']) as boolean]
    }

    /** The manifest's provenance block. */
    static Map of(workflow, Path outdir, Path projectDir) {
        def info = outdir.resolve('pipeline_info')
        [
            nextflow: [version: workflow.nextflow.version.toString(), build: workflow.nextflow.build as Integer],
            pipeline: [name: workflow.manifest.name, version: workflow.manifest.version] + revision(workflow, projectDir),
            container_engine: workflow.containerEngine,
            containers: readYaml(info.resolve(CONTAINERS)),
            software: readYaml(info.resolve(SOFTWARE_VERSIONS)),
        ]
    }
}
