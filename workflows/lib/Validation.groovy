import nextflow.Nextflow
import java.nio.file.Path

/**
 * Start-up checks: params against nextflow_schema.json, samplesheets against assets/schema_input*.json, plus the
 * checks JSON Schema cannot express (unique sample ids, files exist, R1/R2 pairing per lane). Every message names
 * the row, the column and what was expected, and everything here runs before any task is submitted.
 */
class Validation {
    static final String FASTQ_RE = /^(.+)_S\d+_L(\d{3})_(R1|R2|I1|I2)_001\.f(ast)?q(\.gz)?$/

    /**
     * Fails on params that do not match the schema (nextflow.config has filled its defaults). Always on: the types,
     * enums and patterns are what keep parameter values out of task scripts.
     */
    static void params(Map params, Path projectDir) {
        def schema = JsonSchema.load(projectDir.resolve('nextflow_schema.json'))
        Map<String, Map> props = [:]
        schema.root['$defs'].each { k, group -> props.putAll(group.properties as Map) }
        // The command line types a number-looking value (`--leiden_resolutions 0.5`); a string param still sees its text.
        Map given = params.findAll { k, v -> props.containsKey(k) && v != null }.collectEntries { k, v ->
            [k, v instanceof Number && props[k].type == 'string' ? v.toString() : v]
        } as Map
        def invalid = schema.validate(given)
        List<String> errors = invalid.collect { p, msg -> "--${p}: ${msg}".toString() }
        props.each { name, spec ->
            def v = given[name]
            // Only valid values are looked up: an invalid one may not even be a path (e.g. it holds a NUL).
            if (invalid.any { it[0] == name }) return
            if (v != null && name != 'outdir' && spec.format in ['file-path', 'directory-path'] && !Nextflow.file(v as String).exists()) {
                errors << "--${name}: ${spec.format == 'file-path' ? 'file' : 'directory'} '${v}' does not exist".toString()
            }
        }
        if (errors) fail('Invalid parameters (see workflows/nextflow_schema.json)', errors)
    }

    static void fail(String title, List<String> errors) {
        throw new IllegalArgumentException("${title}:\n  - ${errors.join('\n  - ')}")
    }

    /** Reads a CSV with a header row into maps; empty cells are left out so optional columns stay optional. */
    static List<Map> readCsv(Path csv) {
        def records = parseCsv(csv.text, "Samplesheet ${csv}")
        if (!records) fail("Samplesheet ${csv}", ['is empty: expected a header row and at least one sample row'])
        def header = records[0]
        records.drop(1).withIndex().collect { cells, i ->
            if (cells.size() > header.size()) fail("Samplesheet ${csv}", ["row ${i + 1}: ${cells.size()} cells but the header has ${header.size()} columns".toString()])
            Map row = [:]
            header.eachWithIndex { col, j -> def c = j < cells.size() ? cells[j] : ''; if (c) row[col] = c }
            row
        }
    }

    /**
     * RFC 4180 records, as the API's samplesheet parser reads them: quoted fields keep commas, doubled quotes and line
     * breaks verbatim; unquoted fields are trimmed; blank lines are skipped. (Nextflow's own CSV splitter is line-based,
     * and no other CSV library is on its classpath.)
     */
    static List<List<String>> parseCsv(String text, String title) {
        List<List<String>> records = []
        List<String> cells = []
        def cell = new StringBuilder()
        boolean quoted = false, wasQuoted = false
        int line = 1, quoteLine = 1
        def endCell = { cells << (wasQuoted ? cell.toString() : cell.toString().trim()); cell.setLength(0); wasQuoted = false }
        def endRecord = { endCell(); if (cells.size() > 1 || cells[0]) records << cells; cells = [] }
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i)
            if (quoted) {
                if (ch == '"' as char && i + 1 < text.length() && text.charAt(i + 1) == '"' as char) { cell << '"'; i++ }
                else if (ch == '"' as char) quoted = false
                else { if (ch == '\n' as char) line++; cell << ch }
            } else if (ch == '"' as char) {
                if (cell.toString().trim()) fail(title, ["line ${line}: a quote inside an unquoted field; quote the whole field and double its quotes".toString()])
                cell.setLength(0); quoted = true; wasQuoted = true; quoteLine = line
            } else if (ch == ',' as char) endCell()
            else if (ch == '\n' as char) { endRecord(); line++ }
            else if (!(ch == '\r' as char && i + 1 < text.length() && text.charAt(i + 1) == '\n' as char)) cell << ch
        }
        if (quoted) fail(title, ["line ${quoteLine}: a quoted field is not closed".toString()])
        if (cell.length() || cells || wasQuoted) endRecord()
        records
    }

    /** Converts CSV strings to the JSON types the row schema declares, so the schema sees typed values. */
    private static List<Map> coerce(List<Map> rows, JsonSchema schema) {
        Map props = schema.root.items.properties as Map
        rows.collect { row ->
            row.collectEntries { k, v ->
                def t = props[k]?.type
                if (t == 'integer' && v ==~ /-?\d+/) return [k, v as Long]
                if (t == 'number' && v ==~ /-?\d+(\.\d+)?([eE][-+]?\d+)?/) return [k, v as BigDecimal]
                [k, v]
            }
        }
    }

    private static List<String> schemaErrors(List<Map> rows, Path schemaPath, Path csv) {
        def schema = JsonSchema.load(schemaPath)
        def typed = coerce(rows, schema)
        Map props = schema.root.items.properties as Map
        List<String> errors = []
        typed.eachWithIndex { row, i ->
            row.keySet().findAll { !props.containsKey(it) }.each {
                errors << "row ${i + 1}: unknown column '${it}' (expected ${props.keySet().join(', ')})".toString()
            }
        }
        schema.validate(typed).each { p, msg ->
            def m = p =~ /^\[(\d+)\](?:\.(.+))?$/
            if (m) {
                def row = (m[0][1] as int) + 1
                def col = m[0][2]
                def id = typed[row - 1].sample ? " (sample '${typed[row - 1].sample}')" : ''
                errors << (col ? "row ${row}${id}, column ${col}: ${msg}" : "row ${row}${id}: ${msg}").toString()
            } else errors << "${csv.name}: ${msg}".toString()
        }
        errors
    }

    private static void uniqueSamples(List<Map> rows, List<String> errors) {
        Map<String, Integer> seen = [:]
        rows.eachWithIndex { row, i ->
            if (!row.sample) return
            if (seen.containsKey(row.sample)) errors << "row ${i + 1}, column sample: duplicate sample '${row.sample}' (already in row ${seen[row.sample]}); list each sample once (all its lanes come from fastqs)".toString()
            else seen[row.sample as String] = i + 1
        }
    }

    /**
     * FASTQ samplesheet -> one record per sample: [meta, lanes] with lanes = [[lane, r1, r2]] sorted by lane.
     * Index reads (I1/I2) are listed in meta.index_reads and not counted.
     */
    static List<Map> fastqSheet(Path csv, Path projectDir) {
        def rows = readCsv(csv)
        List<String> errors = []
        rows.eachWithIndex { row, i ->
            if (row.fastqs && (row.fastq_1 || row.fastq_2)) errors << "row ${i + 1}: give either fastqs or fastq_1/fastq_2, not both".toString()
            if (!row.fastqs && !row.fastq_1 && !row.fastq_2) errors << "row ${i + 1}, column fastqs: is required (or fastq_1 and fastq_2)".toString()
        }
        errors.addAll(schemaErrors(rows, projectDir.resolve('assets/schema_input.json'), csv))
        uniqueSamples(rows, errors)
        if (errors) fail("Invalid samplesheet ${csv}", errors)

        List<Map> out = []
        rows.eachWithIndex { row, i ->
            def where = "row ${i + 1} (sample '${row.sample}')"
            def meta = [id: row.sample, batch: row.batch ?: row.sample, chemistry: row.chemistry ?: 'auto',
                        expected_cells: row.expected_cells ? row.expected_cells as Integer : null, row: i + 1]
            if (row.fastq_1) {
                def r1 = Nextflow.file(row.fastq_1 as String), r2 = Nextflow.file(row.fastq_2 as String)
                [[r1, 'fastq_1'], [r2, 'fastq_2']].each { f, col -> if (!f.exists()) errors << "${where}, column ${col}: file '${f}' does not exist".toString() }
                if (r1.toString() == r2.toString()) errors << "${where}, column fastq_2: is the same file as fastq_1".toString()
                def m1 = r1.name =~ FASTQ_RE, m2 = r2.name =~ FASTQ_RE
                def lane = m1 ? m1[0][2] as String : '001'
                if (m1 && m2 && (m1[0][2] != m2[0][2] || m1[0][3] != 'R1' || m2[0][3] != 'R2')) {
                    errors << "${where}, columns fastq_1/fastq_2: unpaired reads: ${r1.name} (L${m1[0][2]} ${m1[0][3]}) and ${r2.name} (L${m2[0][2]} ${m2[0][3]}); expected R1 and R2 of one lane".toString()
                }
                out << [meta: meta + [index_reads: []], lanes: [[lane, r1, r2]]]
                return
            }
            def loc = row.fastqs as String
            def base = Nextflow.file(loc)
            List<Path> files
            if (!(loc =~ /[*?\[{]/)) {
                if (!base.exists()) { errors << "${where}, column fastqs: '${loc}' does not exist".toString(); return }
                files = base.isDirectory() ? base.listFiles().findAll { it.name ==~ FASTQ_RE } as List<Path> : [base]
            } else {
                files = Nextflow.files(loc) as List<Path>
            }
            def parsed = files.collect { f -> def m = f.name =~ FASTQ_RE; m ? [f, m[0][1], m[0][2], m[0][3]] : null }
            if (parsed.any { it == null }) {
                errors << "${where}, column fastqs: ${files.findAll { !(it.name ==~ FASTQ_RE) }*.name.join(', ')} not named <prefix>_S<n>_L<lane>_<R1|R2|I1|I2>_001.fastq[.gz]".toString()
                return
            }
            def prefixes = parsed.collect { it[1] }.unique()
            if (prefixes.size() > 1) {
                parsed = parsed.findAll { it[1] == row.sample }
                if (!parsed) { errors << "${where}, column fastqs: holds several samples (${prefixes.join(', ')}) and none is named '${row.sample}'; use a glob".toString(); return }
            }
            if (!parsed) { errors << "${where}, column fastqs: no FASTQ files named <prefix>_S<n>_L<lane>_R1_001.fastq[.gz] in '${loc}'".toString(); return }
            def byLane = parsed.groupBy { it[2] }
            List lanes = []
            byLane.keySet().sort().each { lane ->
                def reads = byLane[lane].groupBy { it[3] }
                ['R1', 'R2'].each { r -> if ((reads[r]?.size() ?: 0) > 1) errors << "${where}, column fastqs: lane L${lane} has ${reads[r].size()} ${r} files".toString() }
                if (!reads.R1 || !reads.R2) {
                    def has = reads.R1 ? 'R1' : (reads.R2 ? 'R2' : 'index reads only')
                    errors << "${where}, column fastqs: unpaired lane L${lane}: has ${has}, expected both R1 and R2".toString()
                } else lanes << [lane, reads.R1[0][0], reads.R2[0][0]]
            }
            out << [meta: meta + [index_reads: parsed.findAll { it[3] in ['I1', 'I2'] }.collect { it[0].name }], lanes: lanes]
        }
        if (errors) fail("Invalid samplesheet ${csv}", errors)
        out
    }

    /**
     * The genomes of a local CellRanger .h5 matrix (bin/matrix_genomes.py in the tasks' Python, found on envPath, the
     * PATH tasks get), or null when that cannot be read here (an object-store path, or no h5py on this host):
     * SCANPY_QC applies the same rule then.
     */
    static List<String> h5Genomes(Path h5, Path projectDir, String envPath) {
        if (h5.fileSystem != java.nio.file.FileSystems.default) return null
        try {
            def pb = new ProcessBuilder('/usr/bin/env', 'python3', projectDir.resolve('bin/matrix_genomes.py').toString(), h5.toString())
            if (envPath) pb.environment().put('PATH', envPath)
            def p = pb.start()
            def out = new StringBuilder(), err = new StringBuilder()
            p.waitForProcessOutput(out, err)
            if (p.exitValue() != 0) {
                org.slf4j.LoggerFactory.getLogger(Validation).warn("cannot list the genomes of ${h5} before the run (${err.toString().trim().readLines().last()}); SCANPY_QC checks them")
                return null
            }
            return new groovy.json.JsonSlurper().parseText(out.toString()).genomes as List<String>
        } catch (IOException e) {
            return null
        }
    }

    /** Matrix samplesheet (--input_type matrix) -> [meta, matrix, raw_matrix|null]. */
    static List<Map> matrixSheet(Path csv, Path projectDir, String envPath = null) {
        def rows = readCsv(csv)
        List<String> errors = schemaErrors(rows, projectDir.resolve('assets/schema_input_matrix.json'), csv)
        uniqueSamples(rows, errors)
        if (errors) fail("Invalid samplesheet ${csv}", errors)
        List<Map> out = []
        rows.eachWithIndex { row, i ->
            def where = "row ${i + 1} (sample '${row.sample}')"
            ['matrix', 'raw_matrix'].each { col ->
                if (!row[col]) return
                def f = Nextflow.file(row[col] as String)
                if (!f.exists()) { errors << "${where}, column ${col}: '${row[col]}' does not exist".toString(); return }
                if (!f.name.endsWith('.h5')) {
                    if (row.genome && col == 'matrix') errors << "${where}, column genome: applies to CellRanger .h5 matrices only".toString()
                    return
                }
                def genomes = h5Genomes(f, projectDir, envPath)
                if (genomes == null) return
                if (!row.genome && genomes.size() > 1) errors << "${where}, column ${col}: '${row[col]}' holds ${genomes.size()} genomes (${genomes.join(', ')}); add a genome column naming the one to use".toString()
                if (row.genome && !(row.genome in genomes)) errors << "${where}, column genome: '${row.genome}' is not a genome of ${col} '${row[col]}' (it holds ${genomes.join(', ') ?: 'no genome names'})".toString()
            }
            out << [meta: [id: row.sample, batch: row.batch ?: row.sample, chemistry: row.chemistry ?: 'unknown', genome: row.genome ?: null, row: i + 1],
                    matrix: row.matrix ? Nextflow.file(row.matrix as String) : null, raw: row.raw_matrix ? Nextflow.file(row.raw_matrix as String) : null]
        }
        if (errors) fail("Invalid samplesheet ${csv}", errors)
        out
    }
}
