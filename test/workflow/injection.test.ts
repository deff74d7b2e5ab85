// No user value becomes shell code. Hostile values go through every string parameter of nextflow_schema.json and
// every samplesheet column: each is refused, with the field named, by the API's validator (the same schemas) and by
// the pipeline's start-up validation; values the schemas cannot see (file names found in a FASTQ folder) are
// accepted and reach the step as data. Any injected command would create a canary file, which must never appear.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FsSchemaFiles } from '../../api/src/adapters/fs-schema-files.js';
import { LaunchValidator } from '../../api/src/domain/validation.js';
import { repoRoot, sharedData } from '../helpers/paths.js';
import { nextflow, readJson, readText, schemaPath, tempSheet } from './nf.js';

interface Prop {
  type: string | string[];
  enum?: string[];
  default?: unknown;
}
type Schema = { $defs: Record<string, { properties: Record<string, Prop> }> };
type SheetSchema = { items: { properties: Record<string, Prop> } };

const canaryDir = await mkdtemp(path.join(tmpdir(), 'nf-canary-'));
t.teardown(() => rm(canaryDir, { recursive: true, force: true }));
const canary = path.join(canaryDir, 'CANARY');

/** Each payload would create the canary if it reached a shell inside or outside quotes. */
const corpus = [
  `'; touch ${canary}; echo '`,
  `"; touch ${canary}; echo "`,
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `;touch ${canary}`,
  `\ntouch ${canary}\n`,
  `\r\ntouch ${canary}`,
  `&& touch ${canary}`,
  `| touch ${canary}`,
  `> ${canary}`,
  `\ttouch\t${canary}`,
  `\0touch ${canary}`,
  `\${IFS}x{a,b}*?!`, // parameter expansion, braces, globs, history
  '\u2019$(id)\u2019', // right single quotation mark
  '\uFF04(id)', // fullwidth dollar sign
  'a\u037Eid', // Greek question mark, looks like ;
  "my file's name", // space and quote
];

/** A legal value with the payload in its middle, so only the payload can make it illegal. */
const inject = (legal: string, payload: string) => {
  const i = Math.max(1, Math.floor(legal.length / 2));
  return legal.slice(0, i) + payload + legal.slice(i);
};

const isString = (p: Prop) => (Array.isArray(p.type) ? p.type : [p.type]).includes('string');

const paramsSchema = await readJson<Schema>(schemaPath('nextflow_schema.json'));
const stringParams = Object.values(paramsSchema.$defs)
  .flatMap((g) => Object.entries(g.properties))
  .filter(([, p]) => isString(p));
const fastqColumns = (await readJson<SheetSchema>(schemaPath('assets/schema_input.json'))).items.properties;
const matrixColumns = (await readJson<SheetSchema>(schemaPath('assets/schema_input_matrix.json'))).items.properties;

const validator = await LaunchValidator.load(new FsSchemaFiles(path.join(repoRoot, 'workflows')));
const paramErrors = (name: string, value: string) =>
  validator.validateParams({ [name]: value }, { inputProvided: true }).filter((e) => e.field === `params.${name}`);

// Legal values the hostile ones are built from; each parameter must accept one of them (checked below).
const legalParamValues = [
  '/data/run1/samples.csv',
  '/data/ref/GRCh38.fa.gz',
  '/data/ref/genes.gtf',
  '/data/ref/star_index',
  'MT-',
  'cell_type',
  's3://scrna-work/runs/1',
  'eu-west-1',
  '/home/ec2-user/miniconda/bin/aws',
  'registry.local:5000/team/',
  'tasks-queue',
  '0.1.0',
  '0.25,0.5,1.0',
];
const legalFor = (name: string, p: Prop) => {
  const v = [...(p.enum ?? []), ...legalParamValues].find((c) => paramErrors(name, c).length === 0);
  if (v === undefined) throw new Error(`no legal example value for --${name}`);
  return v;
};

t.test('every string parameter refuses every payload, naming the parameter (API validator)', async (t) => {
  t.ok(stringParams.length >= 20, `${stringParams.length} string parameters`);
  for (const [name, p] of stringParams) {
    const legal = legalFor(name, p);
    for (const payload of corpus) {
      const errors = paramErrors(name, inject(legal, payload));
      t.ok(errors.length > 0, `--${name} refuses ${JSON.stringify(inject(legal, payload))}`);
    }
  }
});

/** CSV with every cell quoted (quotes doubled), so a cell's value is exactly the string given. */
const toCsv = (columns: string[], rows: Record<string, string>[]) =>
  [columns, ...rows.map((r) => columns.map((c) => r[c] ?? ''))]
    .map((cells) => cells.map((c) => `"${c.replaceAll('"', '""')}"`).join(','))
    .join('\n');

const fastqBase = (i: number, column: string): Record<string, string> =>
  column.startsWith('fastq_')
    ? {
        sample: `pbmc_1k_v3.${i}`,
        batch: 'run-1',
        fastq_1: '/data/pbmc_1k_v3/pbmc_1k_v3_S1_L001_R1_001.fastq.gz',
        fastq_2: '/data/pbmc_1k_v3/pbmc_1k_v3_S1_L001_R2_001.fastq.gz',
        chemistry: 'auto',
        expected_cells: '1000',
      }
    : { sample: `pbmc_1k_v3.${i}`, batch: 'run-1', fastqs: '/data/pbmc_1k_v3/fastqs', chemistry: '10xv3', expected_cells: '1000' };
const matrixBase = (i: number): Record<string, string> => ({
  sample: `pbmc68k.${i}`,
  batch: 'b_2',
  matrix: '/data/pbmc68k/filtered_feature_bc_matrix.h5',
  raw_matrix: '/data/pbmc68k/raw_feature_bc_matrix',
  chemistry: '10xv2',
});

/** One row per (column, payload): row i carries payload i in one column and legal values elsewhere. */
function hostileRows(columns: Record<string, Prop>, base: (i: number, column: string) => Record<string, string>) {
  const rows: { row: Record<string, string>; column: string }[] = [];
  for (const column of Object.keys(columns)) {
    for (const payload of corpus) {
      const row = base(rows.length + 1, column);
      row[column] = inject(row[column] ?? 'x', payload);
      rows.push({ row, column });
    }
  }
  return rows;
}

for (const [kind, columns, base] of [
  ['fastq', fastqColumns, fastqBase],
  ['matrix', matrixColumns, matrixBase],
] as const) {
  t.test(`every ${kind} samplesheet column refuses every payload, naming row and column (API validator)`, async (t) => {
    const names = Object.keys(columns);
    for (const column of names) {
      const legal = base(1, column);
      t.same(validator.validateSamplesheet(toCsv(Object.keys(legal), [legal]), kind).errors, [], `the legal ${column} row passes`);
    }
    const rows = hostileRows(columns, base);
    const { errors } = validator.validateSamplesheet(
      toCsv(
        names,
        rows.map((r) => r.row),
      ),
      kind,
    );
    rows.forEach(({ row, column }, i) => {
      t.ok(
        errors.some((e) => e.row === i + 1 && e.column === column),
        `row ${i + 1}: ${column} ${JSON.stringify(row[column])} is refused`,
      );
    });
  });
}

const noTask = /executor >/;

t.test("the pipeline's start-up validation refuses the payloads in every parameter it reads from a params file", async (t) => {
  // --outdir is set on the command line by the helper and wins over the file, so it is left to the API check.
  const hostile = stringParams.filter(([name]) => name !== 'outdir');
  for (const offset of [0, Math.floor(corpus.length / 2)]) {
    const dir = await mkdtemp(path.join(tmpdir(), 'nf-inj-params-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const values = Object.fromEntries(
      hostile.map(([name, p], i) => [name, inject(legalFor(name, p), corpus[(i + offset) % corpus.length]!)]),
    );
    const file = path.join(dir, 'params.json');
    await writeFile(file, JSON.stringify(values));
    const r = await nextflow(['-profile', 'stub', '-params-file', file], 'nf-inj-params-');
    t.teardown(r.cleanup);
    t.not(r.code, 0, 'the run fails');
    t.notMatch(r.stdout, noTask, 'no task was submitted');
    for (const [name] of hostile) t.ok((r.stdout + r.stderr).includes(`--${name}: `), `--${name} is named`);
  }
  t.notOk(existsSync(canary), 'no injected command ran');
});

for (const [kind, columns, base] of [
  ['fastq', fastqColumns, fastqBase],
  ['matrix', matrixColumns, matrixBase],
] as const) {
  t.test(`the pipeline's start-up validation refuses the payloads in every ${kind} samplesheet column`, async (t) => {
    const rows = hostileRows(columns, base);
    const sheet = await tempSheet(
      toCsv(
        Object.keys(columns),
        rows.map((r) => r.row),
      ),
    );
    t.teardown(sheet.cleanup);
    const r = await nextflow(['--input', sheet.file, '--input_type', kind, '--stop_after', 'register'], 'nf-inj-sheet-');
    t.teardown(r.cleanup);
    t.not(r.code, 0, 'the run fails');
    t.notMatch(r.stdout, noTask, 'no task was submitted');
    rows.forEach(({ row, column }, i) => {
      t.ok(
        (r.stdout + r.stderr).includes(`row ${i + 1} (sample '${row.sample}'), column ${column}: `),
        `row ${i + 1}, column ${column} is named`,
      );
    });
    t.notOk(existsSync(canary), 'no injected command ran');
  });
}

t.test('FASTQ file names the schemas cannot see reach REGISTER literally, as data', async (t) => {
  // File names hold no '/', so these payloads touch CANARY in the task's own folder, under the launch directory.
  const prefix = 'a b\'c"$(touch CANARY)d`touch CANARY`e;touch CANARY&&f|g \u2019\uFF04';
  const kb = path.join(sharedData, 'kb_python_10xv2_mouse');
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-inj-fastq-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fastqs = path.join(dir, 'fastqs');
  await mkdir(fastqs);
  const names: Record<string, string> = {};
  for (const lane of ['001', '002']) {
    for (const read of ['R1', 'R2', 'I1'] as const) {
      if (read === 'I1' && lane === '002') continue;
      const name = `${prefix}_S1_L${lane}_${read}_001.fastq`;
      names[`${lane}${read}`] = path.join(fastqs, name);
      await symlink(path.join(kb, read === 'R2' ? 'R2.fastq' : 'R1.fastq'), path.join(fastqs, name));
    }
  }
  const sheet = await tempSheet(`sample,batch,fastqs\npbmc_1k_v3,run-1,${fastqs}`);
  t.teardown(sheet.cleanup);
  const r = await nextflow(['--input', sheet.file, '--stop_after', 'register'], 'nf-inj-fastq-');
  t.teardown(r.cleanup);
  const files = await readdir(r.dir, { recursive: true });
  t.same(
    files.filter((f) => path.basename(f) === 'CANARY'),
    [],
    'no injected command ran',
  );
  const scripts = files.filter((f) => path.basename(f) === '.command.sh');
  t.ok(scripts.length > 0, 'the task ran');
  for (const f of scripts) t.notOk((await readText(path.join(r.dir, f))).includes('touch CANARY'), `${f} holds no file name`);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const rec = await readJson<{ sample: string; files: { path: string; lane: string; read: string }[]; index_reads: string[] }>(
    path.join(r.outdir, 'registration/pbmc_1k_v3.registration.json'),
  );
  t.same(
    rec.files.map((f) => [f.lane, f.read, f.path]),
    [
      ['001', 'R1', names['001R1']],
      ['001', 'R2', names['001R2']],
      ['002', 'R1', names['002R1']],
      ['002', 'R2', names['002R2']],
    ],
    'the original paths are recorded literally',
  );
  t.same(rec.index_reads, [path.basename(names['001I1']!)], 'the index read is listed literally');
});
