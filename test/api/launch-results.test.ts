// Launch validation (params schema, samplesheet rows/columns), results ingest from a manifest with checksums,
// per-sample QC and per-cell Arrow queries, tokens and uploads, and the OpenAPI document.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Bool, Dictionary, Float32, Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import t from 'tap';
import { platformFor } from './helpers.js';

const SHEET = 'sample,batch,fastq_1,fastq_2,chemistry\npbmc1,b1,/data/p1_R1.fastq.gz,/data/p1_R2.fastq.gz,10xv3\n';

t.test('launch requests are validated against the pipeline schemas', async (t) => {
  const p = await platformFor(t);
  const validate = async (payload: object) => {
    const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload });
    t.equal(r.statusCode, 200, r.body);
    return r.json();
  };
  const ok = await validate({ params: { counter: 'starsolo', min_genes: 100 }, samplesheet: SHEET });
  t.same(ok.errors, []);
  t.equal(ok.valid, true);
  t.match(
    ok.command,
    /^nextflow run \S+ -c \S+platform\.config -params-file \S+\/params\.json --outdir \S+\/results -work-dir \S+ --input \S+samplesheet\.csv$/,
  );
  t.match((await validate({ profiles: ['test'] })).command, /-profile test -c /);

  const bad = await validate({
    params: { counter: 'kallisto', min_genes: -1, outdir: '/elsewhere' },
    samplesheet:
      'sample,batch,fastq_1,fastq_2,colour\nok1,b,/a_R1.fastq.gz,/a_R2.fastq.gz,red\nbad id,b,/b_R1.fastq.gz,/b_R2.txt,blue\nx3,b\n',
    profiles: ['test', 'gpu'],
    labels: { 'bad key!': 'v' },
  });
  t.equal(bad.valid, false);
  const has = (m: object) =>
    t.ok(
      bad.errors.some((e: object) => Object.entries(m).every(([k, v]) => (e as Record<string, unknown>)[k] === v)),
      JSON.stringify(m),
    );
  has({ field: 'params.counter' });
  has({ field: 'params.min_genes' });
  has({ field: 'params.outdir' });
  has({ field: 'profiles[1]' });
  has({ field: 'labels.bad key!' });
  has({ field: 'samplesheet', line: 1, column: 'colour' });
  has({ field: 'samplesheet', row: 2, line: 3, column: 'sample' });
  has({ field: 'samplesheet', row: 2, line: 3, column: 'fastq_2' });
  has({ field: 'samplesheet', line: 4 });
  t.equal((await validate({ params: {} })).errors[0].field, 'samplesheet', 'a samplesheet is needed without the test profile');
  t.equal((await validate({ samplesheet: 'sample,"unterminated\n' })).errors[0].line, 1);

  const rejected = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs',
    payload: { params: { counter: 'kallisto' }, samplesheet: SHEET },
  });
  t.equal(rejected.statusCode, 400);
  t.equal(rejected.json().field, 'params.counter');
  t.equal(
    (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { params: 'x', profiles: ['test'] } })).json().field,
    'params',
  );
  t.equal((await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { parms: {} } })).json().field, 'samplesheet');
  t.equal((await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { parms: {}, profiles: ['test'] } })).json().field, 'parms');
  t.equal(
    (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'], labels: { 'bad key!': 'v' } } })).json()
      .field,
    'labels.bad key!',
  );
  t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 0, 'nothing created by rejected launches');

  const schema = await p.app.inject({ url: '/api/v1/schema/params' });
  t.equal(schema.json().$defs.analysis_options.properties.counter.default, 'starsolo');
  t.equal((await p.app.inject({ url: '/api/v1/schema/samplesheet' })).json().items.required[0], 'sample');
});

t.test('launching without installed pipeline schemas is a clear 409, not a crash', async (t) => {
  const p = await platformFor(t, { workflowsDir: '/nonexistent' });
  const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: SHEET } });
  t.equal(r.statusCode, 409);
  t.match(r.json().message, /nextflow_schema\.json/);
});

async function writeResults(outdir: string, opts: { corrupt?: boolean } = {}) {
  await mkdir(path.join(outdir, 'qc'), { recursive: true });
  const n = 500;
  const samples = ['pbmc1', 'pbmc2'];
  const cells = new Table({
    barcode: vectorFromArray(
      Array.from({ length: n }, (_, i) => `AAAC${i.toString(16).padStart(8, '0')}-1`),
      new Utf8(),
    ),
    sample: vectorFromArray(
      Array.from({ length: n }, (_, i) => samples[i % 2]!),
      new Dictionary(new Utf8(), new Int32()),
    ),
    batch: vectorFromArray(
      Array.from({ length: n }, (_, i) => `b${i % 2}`),
      new Dictionary(new Utf8(), new Int32()),
    ),
    n_genes: vectorFromArray(
      Array.from({ length: n }, (_, i) => 500 + i),
      new Int32(),
    ),
    total_counts: vectorFromArray(
      Array.from({ length: n }, (_, i) => 1000 + i * 2.5),
      new Float32(),
    ),
    pct_counts_mt: vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 10) / 2),
      new Float32(),
    ),
    doublet_score: vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 7) / 10),
      new Float32(),
    ),
    leiden: vectorFromArray(
      Array.from({ length: n }, (_, i) => String(i % 5)),
      new Dictionary(new Utf8(), new Int32()),
    ),
    umap_x: vectorFromArray(
      Array.from({ length: n }, (_, i) => Math.cos(i)),
      new Float32(),
    ),
    umap_y: vectorFromArray(
      Array.from({ length: n }, (_, i) => Math.sin(i)),
      new Float32(),
    ),
    cell_type: vectorFromArray(
      Array.from({ length: n }, (_, i) => ['T', 'B', 'NK'][i % 3]!),
      new Dictionary(new Utf8(), new Int32()),
    ),
  });
  const ranks = new Table({
    sample: vectorFromArray(['pbmc1', 'pbmc1', 'pbmc1', 'pbmc2'], new Dictionary(new Utf8(), new Int32())),
    rank: vectorFromArray([1, 2, 3, 1], new Int32()),
    umi_count: vectorFromArray([9000, 4000, 12, 8000], new Int32()),
    is_cell: vectorFromArray([true, true, false, true], new Bool()),
  });
  const files: Record<string, Uint8Array> = {
    'qc/cells.arrow': tableToIPC(cells, 'file'),
    'qc/barcode_ranks.arrow': tableToIPC(ranks, 'file'),
    'qc/pbmc1_metrics.csv': Buffer.from('Estimated Number of Cells,250\n'),
  };
  const outputs = [];
  for (const [rel, buf] of Object.entries(files)) {
    await writeFile(path.join(outdir, rel), buf);
    const sha = createHash('sha256').update(buf).digest('hex');
    outputs.push({
      path: rel,
      kind: rel.endsWith('cells.arrow') ? 'cells' : rel.includes('ranks') ? 'barcode_ranks' : 'metrics',
      sample: null,
      size: buf.length,
      sha256: opts.corrupt && rel.includes('cells') ? '0'.repeat(64) : sha,
    });
  }
  const sample = (s: string) => ({
    sample: s,
    batch: s === 'pbmc1' ? 'b0' : 'b1',
    chemistry: '10xv3',
    registration: { lanes: [1], read_pairs: 1000, r1_length: 28, r2_length: 91, files: [] },
    metrics: { 'Estimated Number of Cells': 250, 'Sequencing Saturation': 0.42, 'Median Genes per Cell': 900 },
    qc_thresholds: { min_genes: 200, max_genes: 6000, min_counts: 500, max_counts: 50000, max_pct_mt: 20 },
    cells_before_qc: 300,
    cells_after_qc: 250,
  });
  const manifest = {
    schema_version: '1.0',
    workflow: { name: 'scrna-platform', version: '0.1.0' },
    params: { counter: 'starsolo' },
    samples: [sample('pbmc1'), sample('pbmc2')],
    integration: {
      n_cells: n,
      n_genes: 2000,
      n_clusters: 5,
      batch_key: 'batch',
      label_key: null,
      metrics: { ilisi: { before: 1.1, after: 1.8 } },
    },
    outputs,
  };
  await writeFile(path.join(outdir, 'manifest.json'), JSON.stringify(manifest));
  return n;
}

t.test('results: manifest ingest with checksums, QC per sample, cells as Arrow with selected columns', async (t) => {
  const p = await platformFor(t);
  const outdir = path.join(p.dataDir, 'runs/r1/results');
  const run = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'done', status: 'COMPLETED', source: 'platform', outdir });
  const ingest = () => p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/results` });
  const none = await ingest();
  t.equal(none.statusCode, 409, 'no manifest yet');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}/cells` })).statusCode, 409, 'no per-cell data before ingest');

  await writeResults(outdir, { corrupt: true });
  const corrupt = await ingest();
  t.equal(corrupt.statusCode, 422);
  t.match(corrupt.json().message, /checksum mismatch for qc\/cells\.arrow/);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}/samples` })).json().items.length, 0, 'nothing loaded from a bad manifest');

  const n = await writeResults(outdir);
  const ok = await ingest();
  t.equal(ok.statusCode, 200, ok.body);
  t.same(ok.json(), { samples: 2, cells: n, outputs: 3 });
  t.equal((await ingest()).statusCode, 200, 'ingest again replaces');
  const samples = (await p.app.inject({ url: `/api/v1/runs/${run.id}/samples` })).json().items;
  t.same(
    samples.map((s: { sample: string }) => s.sample),
    ['pbmc1', 'pbmc2'],
  );
  t.equal(samples[0].metrics['Sequencing Saturation'], 0.42);
  t.equal(samples[0].qcThresholds.max_pct_mt, 20);
  t.equal(samples[0].cellsAfterQc, 250);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}/integration` })).json().metrics.ilisi.after, 1.8);

  const cells = await p.app.inject({ url: `/api/v1/runs/${run.id}/cells?columns=umap_x,umap_y,leiden,cell_type` });
  t.equal(cells.statusCode, 200);
  t.equal(cells.headers['content-type'], 'application/vnd.apache.arrow.stream');
  const table = tableFromIPC(cells.rawPayload);
  t.equal(table.numRows, n);
  t.same(
    table.schema.fields.map((f) => f.name),
    ['umap_x', 'umap_y', 'leiden', 'cell_type'],
  );
  t.equal(String(table.schema.fields[0]!.type), 'Float32');
  t.match(String(table.schema.fields[2]!.type), /Dictionary<Int8, Utf8>/, 'a few clusters: 1-byte indices');
  t.equal(table.getChild('leiden')!.get(7), '2');
  t.equal(table.getChild('cell_type')!.get(4), 'B');
  t.ok(Math.abs((table.getChild('umap_y')!.get(3) as number) - Math.sin(3)) < 1e-6);
  const all = tableFromIPC((await p.app.inject({ url: `/api/v1/runs/${run.id}/cells` })).rawPayload);
  t.same(
    all.schema.fields.map((f) => f.name),
    ['barcode', 'sample', 'batch', 'n_genes', 'total_counts', 'pct_counts_mt', 'doublet_score', 'leiden', 'umap_x', 'umap_y', 'cell_type'],
  );
  t.equal(all.getChild('n_genes')!.get(10), 510);
  const badCol = await p.app.inject({ url: `/api/v1/runs/${run.id}/cells?columns=umap_x,secret` });
  t.equal(badCol.statusCode, 400);
  t.equal(badCol.json().field, 'columns');
  const ranks = tableFromIPC((await p.app.inject({ url: `/api/v1/runs/${run.id}/barcode-ranks` })).rawPayload);
  t.equal(ranks.numRows, 4);
  t.same(ranks.getChild('is_cell')!.toArray().slice(0, 3), [true, true, false]);
});

t.test('tokens and uploads', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: 'bootstrap-admin-token' });
  t.equal((await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'lims' } })).statusCode, 401);
  const tok = await p.app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    payload: { name: 'lims' },
    headers: { authorization: 'Bearer bootstrap-admin-token' },
  });
  t.equal(tok.statusCode, 201);
  const lims = tok.json().token as string;
  t.equal(
    (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'x' }, headers: { authorization: `Bearer ${lims}` } }))
      .statusCode,
    403,
  );
  const up = (payload: object, auth = `Bearer ${lims}`) =>
    p.app.inject({ method: 'POST', url: '/api/v1/uploads', payload, headers: { authorization: auth } });
  t.equal((await up({ uri: 's3://raw/x.fastq.gz' }, 'Bearer wrong')).statusCode, 401);
  const first = await up({ uri: 's3://raw/run7/pbmc1_S1_L002_R1_001.fastq.gz', size: 123 });
  t.equal(first.statusCode, 201);
  t.match(first.json(), { sample: 'pbmc1', lane: 2, read: 'R1', created: true });
  const again = await up({ uri: 's3://raw/run7/pbmc1_S1_L002_R1_001.fastq.gz', size: 123 });
  t.equal(again.statusCode, 200);
  t.equal(again.json().id, first.json().id, 'registering twice is idempotent');
  t.equal((await up({ uri: 's3://raw/y.fastq.gz', sha256: 'xyz' })).json().field, 'sha256');
  t.equal(
    (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: SHEET } })).statusCode,
    401,
    'writes need a token when auth is required',
  );
});

t.test('the OpenAPI document validates and lists every contract route', async (t) => {
  const p = await platformFor(t);
  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'valid OpenAPI 3');
  const routes = Object.entries(doc.paths as Record<string, object>).flatMap(([k, v]) =>
    Object.keys(v).map((m) => `${m.toUpperCase()} ${k}`),
  );
  for (const r of [
    'GET /api/v1/runs',
    'POST /api/v1/runs',
    'POST /api/v1/runs/validate',
    'GET /api/v1/runs/{id}',
    'POST /api/v1/runs/{id}/cancel',
    'POST /api/v1/runs/{id}/relaunch',
    'POST /api/v1/runs/{id}/results',
    'POST /api/v1/runs/{id}/trace',
    'POST /api/v1/runs/trace',
    'GET /api/v1/runs/{id}/processes',
    'GET /api/v1/runs/{id}/tasks',
    'GET /api/v1/runs/{id}/samples',
    'GET /api/v1/runs/{id}/integration',
    'GET /api/v1/runs/{id}/cells',
    'GET /api/v1/runs/{id}/barcode-ranks',
    'GET /api/v1/runs/{id}/log',
    'GET /api/v1/runs/{id}/tasks/{taskId}/log',
    'GET /api/v1/stream/runs',
    'GET /api/v1/schema/params',
    'GET /api/v1/schema/samplesheet',
    'POST /api/v1/tokens',
    'POST /api/v1/uploads',
    'POST /api/v1/events',
  ])
    t.ok(routes.includes(r), r);
  for (const [route, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>))
    for (const [m, op] of Object.entries(ops))
      t.ok(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        `${m} ${route} declares its success response`,
      );
  const docs = await p.app.inject({ url: '/docs/' });
  t.equal(docs.statusCode, 200);
  t.match(docs.body, /swagger/i);
});
