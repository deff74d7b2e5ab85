// Wiring without computation: -stub-run for each counter, the awsbatch profile's resolved config, and the
// schemas the API and UI load (standard JSON Schema 2020-12, defaults equal to the pipeline's params).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { nextflowBin, repoRoot } from '../helpers/paths.js';
import { nextflow, readJson, schemaPath, schemaValidator } from './nf.js';

for (const counter of ['starsolo', 'cellranger']) {
  t.test(`-stub-run completes with --counter ${counter}`, async (t) => {
    const nf = await nextflow(['-profile', 'stub', '-stub-run', '--counter', counter], `nf-stub-${counter}-`);
    t.teardown(nf.cleanup);
    t.equal(nf.code, 0, nf.stdout + nf.stderr);
    const ran = counter === 'starsolo' ? /COUNT:STARSOLO \(SYN1\)\s+\| 1 of 1/ : /COUNT:CELLRANGER_COUNT \(SYN1\)\s+\| 1 of 1/;
    t.match(nf.stdout, ran);
    t.match(nf.stdout, /INTEGRATE:SCANPY_INTEGRATE\s+\| 1 of 1/);
    t.same((await readdir(path.join(nf.outdir, 'count/SYN1'))).filter((f) => ['raw', 'filtered', 'metrics.json'].includes(f)).sort(), [
      'filtered',
      'metrics.json',
      'raw',
    ]);
    if (counter === 'cellranger') {
      const m = await readJson(path.join(nf.outdir, 'count/SYN1/metrics.json'));
      t.same(m, { 'Estimated Number of Cells': 1, 'Valid Barcodes': 0.971 }, 'metrics_summary.csv strings become numbers and fractions');
    }
  });
}

t.test('the awsbatch profile resolves executor, queue, S3 work dir and one image per step', async (t) => {
  const r = await run(nextflowBin, ['config', repoRoot, '-profile', 'awsbatch', '-flat'], {
    env: { SCRNA_BATCH_TASK_QUEUE: 'tasks-q', SCRNA_WORK_BUCKET: 'work-bkt', AWS_REGION: 'eu-west-1' },
  });
  t.equal(r.code, 0, r.stderr);
  const flat = Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const i = l.indexOf(' = ');
        return [l.slice(0, i).trim(), l.slice(i + 3).trim()];
      }),
  );
  t.equal(flat['process.executor'], "'awsbatch'");
  t.equal(flat['process.queue'], "'tasks-q'");
  t.equal(flat.workDir, "'s3://work-bkt/work'");
  t.equal(flat['aws.region'], "'eu-west-1'");
  for (const [label, image] of [
    ['process_star', 'starsolo'],
    ['process_python', 'scanpy'],
    ['process_cellranger', 'cellranger'],
  ]) {
    t.equal(flat[`process.'withLabel:${label}'.container`], `'scrna/${image}:0.1.0'`, `${label} -> scrna/${image}`);
  }
});

t.test("the head job's environment names the image registry and the AWS CLI path", async (t) => {
  const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/';
  const r = await run(nextflowBin, ['config', repoRoot, '-profile', 'awsbatch', '-flat'], {
    env: { SCRNA_CONTAINER_REGISTRY: registry, SCRNA_BATCH_CLI_PATH: '/opt/aws-cli/bin/aws', AWS_REGION: 'eu-west-1' },
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `process.'withLabel:process_python'.container = '${registry}scrna/scanpy:0.1.0'`);
  t.match(r.stdout, "aws.batch.cliPath = '/opt/aws-cli/bin/aws'");
});

t.test('the params and samplesheet schemas are standard JSON Schema and match the pipeline defaults', async (t) => {
  const ajv = schemaValidator();
  const params = await readJson<{ $defs: Record<string, { properties: Record<string, { default?: unknown }> }> }>(
    schemaPath('nextflow_schema.json'),
  );
  const validateParams = ajv.compile(params);
  for (const file of ['assets/schema_input.json', 'assets/schema_input_matrix.json', 'assets/manifest.schema.json']) {
    ajv.compile(await readJson(schemaPath(file)));
  }
  const r = await run(nextflowBin, ['config', repoRoot, '-flat']);
  t.equal(r.code, 0, r.stderr);
  const defaults: Record<string, unknown> = {};
  for (const group of Object.values(params.$defs)) {
    for (const [name, spec] of Object.entries(group.properties)) if ('default' in spec) defaults[name] = spec.default;
  }
  t.ok(validateParams(defaults), JSON.stringify(validateParams.errors));
  t.notOk(validateParams({ ...defaults, counter: 'kallisto' }));
  for (const [name, value] of Object.entries(defaults)) {
    if (value === null) continue;
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    t.ok(r.stdout.includes(`params.${name} = ${shown}`), `params.${name} defaults to ${shown}`);
  }
  const rows = ajv.getSchema('https://scrna-platform.local/workflows/assets/schema_input.json');
  if (!rows) throw new Error('schema_input.json was not compiled');
  t.ok(
    rows([
      { sample: 'a', fastqs: '/d' },
      { sample: 'b', fastq_1: '/x_R1.fastq.gz', fastq_2: '/x_R2.fastq.gz', chemistry: 'auto', expected_cells: 3 },
    ]),
  );
  t.notOk(rows([{ sample: 'a', fastq_1: '/x_R1.fastq.gz' }]), 'fastq_1 needs fastq_2');
  t.notOk(rows([{ sample: 'a', fastqs: '/d', chemistry: '10xv9' }]));
  t.notOk(rows([{ sample: 'a', fastqs: '/d', fastq_1: '/x_R1.fastq.gz', fastq_2: '/x_R2.fastq.gz' }]), 'fastqs or a pair, not both');
});

t.test(
  'the README method table states assets/methods.json: each step, its method, its params with their defaults, its reference',
  async (t) => {
    const methods = await readJson<{
      steps: { step: string; when?: Record<string, string>; method: string; params: string[]; reference: string }[];
    }>(schemaPath('assets/methods.json'));
    const schema = await readJson<{ $defs: Record<string, { properties: Record<string, { default?: unknown }> }> }>(
      schemaPath('nextflow_schema.json'),
    );
    const specs = Object.assign({}, ...Object.values(schema.$defs).map((g) => g.properties)) as Record<string, { default?: unknown }>;
    const readme = await readFile(schemaPath('README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Methods'), readme.indexOf('## Outputs'));
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| step |'))
      .map((l) => l.slice(2, -2).split(' | '));
    t.equal(rows.length, methods.steps.length, 'one row per step');
    methods.steps.forEach((s, i) => {
      const [step = '', method, params, reference] = rows[i] ?? [];
      t.ok(step.startsWith(s.step), `row ${i + 1} is ${s.step}`);
      for (const [k, v] of Object.entries(s.when ?? {})) if (k !== 'input_type') t.match(step, `\`${k}\` = ${v}`);
      t.equal(method, s.method, `${s.step}: method`);
      for (const p of s.params) t.ok(p in specs && 'default' in (specs[p] ?? {}), `${s.step}: ${p} is a param with a default`);
      t.equal(params, s.params.map((p) => `\`${p}\` = ${String(specs[p]?.default)}`).join(', '), `${s.step}: params and defaults`);
      t.equal(reference, s.reference, `${s.step}: reference`);
    });
    const validate = schemaValidator().compile(schema);
    const defaults = Object.fromEntries(Object.entries(specs).flatMap(([k, v]) => ('default' in v ? [[k, v.default]] : [])));
    t.ok(validate({ ...defaults, leiden_resolutions: '0.5' }), 'a single resolution');
    t.notOk(validate({ ...defaults, leiden_resolutions: '0.5;1' }), 'resolutions are a comma-separated list of numbers');
    t.notOk(validate({ ...defaults, hvg_flavor: 'cell_ranger' }));
  },
);
