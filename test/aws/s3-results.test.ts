// The S3 result store against moto (through a recording proxy, to see which S3 calls ingest makes): a run's
// results ingested from s3:// with checksums taken from S3 where it holds a SHA-256 and hashed otherwise, cells
// and QC served; a missing object, a wrong checksum and a samplesheet naming a missing object are precise 4xx
// answers that name the object and leave nothing written.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Dictionary, Float32, Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import t from 'tap';
import { S3ResultStore } from '../../api/src/adapters/s3-results.js';
import { decodeExpression } from '../../ui/src/lib/expression.js';
import { platformFor } from '../api/helpers.js';
import { makeExpressionFiles } from '../helpers/expression-files.js';
import { repoRoot } from '../helpers/paths.js';
import { readZip } from '../helpers/zip.js';
import { fakeCredentials } from '../infra/moto.js';
import { awsPlatform, motoPlatform, names, pointSdkAt, recordingProxy, region } from './aws.js';

const moto = await motoPlatform(t);
const proxy = await recordingProxy(t, moto.url);
pointSdkAt(proxy.url);

const n = 120;
const cells = tableToIPC(
  new Table({
    barcode: vectorFromArray(
      Array.from({ length: n }, (_, i) => `ACGT${String(i).padStart(6, '0')}-1`),
      new Utf8(),
    ),
    sample: vectorFromArray(
      Array.from({ length: n }, (_, i) => (i < n / 2 ? 'a' : 'b')),
      new Dictionary(new Utf8(), new Int32()),
    ),
    umap_x: vectorFromArray(
      Array.from({ length: n }, (_, i) => i / n),
      new Float32(),
    ),
    leiden: vectorFromArray(
      Array.from({ length: n }, (_, i) => String(i % 3)),
      new Dictionary(new Utf8(), new Int32()),
    ),
  }),
  'file',
);
const files: Record<string, { body: Uint8Array; kind: string; sha256Stored: boolean }> = {
  'qc/cells.arrow': { body: cells, kind: 'cells', sha256Stored: true },
  'qc/a_metrics.csv': { body: Buffer.from('Estimated Number of Cells,60\n'), kind: 'metrics', sha256Stored: true },
  // Uploaded without a SHA-256: ingest has to hash its bytes.
  'qc/b_metrics.csv': { body: Buffer.from('Estimated Number of Cells,60\n\n'), kind: 'metrics', sha256Stored: false },
};
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function upload(prefix: string, rel: string, body: Uint8Array | string, sha256Stored = true) {
  const key = `${prefix}/${rel}`;
  if (sha256Stored)
    // lib-storage: one PutObject below its part size, a multipart upload above it, both with the checksum.
    await new Upload({
      client: moto.s3,
      params: { Bucket: names.resultsBucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256' },
    }).done();
  else await moto.s3.send(new PutObjectCommand({ Bucket: names.resultsBucket, Key: key, Body: body }));
}

function manifest(over: Record<string, string> = {}) {
  return {
    schema_version: '1.0',
    workflow: { name: 'scrna-platform', version: '0.1.0' },
    params: {},
    samples: ['a', 'b'].map((s) => ({
      sample: s,
      batch: s,
      chemistry: '10xv3',
      registration: {},
      metrics: { 'Estimated Number of Cells': 60 },
      qc_thresholds: {},
      cells_before_qc: 70,
      cells_after_qc: 60,
    })),
    integration: { n_cells: n, n_genes: 10, n_clusters: 3, batch_key: 'batch', label_key: null, metrics: {} },
    outputs: Object.entries(files).map(([p, f]) => ({
      path: p,
      kind: f.kind,
      sample: null,
      size: f.body.length,
      sha256: over[p] ?? sha(f.body),
    })),
  };
}

// The fixture workflows have no manifest schema: the API checks the fields it needs (the pipeline's own schema is
// exercised by the end-to-end run).
const p = await platformFor(t, { ...awsPlatform(), launcher: 'local' });

async function runWithResults(write: (prefix: string) => Promise<void>) {
  const id = randomUUID();
  const prefix = `runs/${id}`;
  await write(prefix);
  await p.repos.runs.create({ id, name: id, status: 'COMPLETED', source: 'platform', outdir: `s3://${names.resultsBucket}/${prefix}` });
  return { id, prefix };
}
const ingest = (id: string) => p.app.inject({ method: 'POST', url: `/api/v1/runs/${id}/results` });
const requestsFor = (prefix: string, rel: string) => proxy.requests.filter((r) => r.path.split('?')[0]!.endsWith(`${prefix}/${rel}`));

t.test('results are ingested from S3; stored SHA-256s spare the download, others are hashed', async (t) => {
  const { id, prefix } = await runWithResults(async (prefix) => {
    for (const [rel, f] of Object.entries(files)) await upload(prefix, rel, f.body, f.sha256Stored);
    await upload(prefix, 'manifest.json', JSON.stringify(manifest()));
  });
  const r = await ingest(id);
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { samples: 2, cells: n, outputs: 3 });

  const gets = (rel: string) => requestsFor(prefix, rel).filter((q) => q.method === 'GET' && !q.path.includes('attributes'));
  const attrs = (rel: string) => requestsFor(prefix, rel).filter((q) => q.path.includes('attributes'));
  t.equal(attrs('qc/a_metrics.csv').length, 1, 'checksum asked of S3');
  t.equal(gets('qc/a_metrics.csv').length, 0, 'and the object never downloaded');
  t.equal(gets('qc/b_metrics.csv').length, 1, 'no SHA-256 in S3: downloaded once to hash it');
  t.equal(gets('qc/cells.arrow').length, 1, 'cells read once (for their rows), checksum from S3');

  const table = tableFromIPC((await p.app.inject({ url: `/api/v1/runs/${id}/cells?columns=barcode,leiden` })).rawPayload);
  t.equal(table.numRows, n);
  t.equal(table.getChild('leiden')!.get(4), '1');
  const samples = (await p.app.inject({ url: `/api/v1/runs/${id}/samples` })).json().items;
  t.same(
    samples.map((s: { sample: string; cellsAfterQc: number }) => [s.sample, s.cellsAfterQc]),
    [
      ['a', 60],
      ['b', 60],
    ],
  );
});

t.test('outputs download from S3 by a short-lived presigned URL', async (t) => {
  const { id } = await runWithResults(async (prefix) => {
    for (const [rel, f] of Object.entries(files)) await upload(prefix, rel, f.body, f.sha256Stored);
    await upload(prefix, 'manifest.json', JSON.stringify(manifest()));
  });
  t.equal((await ingest(id)).statusCode, 200);
  const r = await p.app.inject({ url: `/api/v1/runs/${id}/outputs/qc/b_metrics.csv` });
  t.equal(r.statusCode, 302, 'a redirect, not the bytes through the API');
  const location = String(r.headers.location);
  t.match(location, /X-Amz-Expires=300/, 'expiring in 300 s');
  const got = await fetch(location);
  t.equal(got.status, 200);
  t.equal(sha(Buffer.from(await got.arrayBuffer())), sha(files['qc/b_metrics.csv']!.body), 'the presigned URL serves the object');
  t.match(got.headers.get('content-disposition'), /attachment; filename="b_metrics.csv"/);
  const store = new S3ResultStore(new S3Client({ region, endpoint: proxy.url, credentials: fakeCredentials, forcePathStyle: true }));
  // moto does not enforce a presigned URL's expiry (a real S3 answers 403 after it), so the test checks what S3
  // enforces it from: the signed expiry and signing time in the URL.
  const short = new URL(await store.url(`s3://${names.resultsBucket}/runs/${id}/qc/b_metrics.csv`, 1));
  t.equal(short.searchParams.get('X-Amz-Expires'), '1');
  t.match(short.searchParams.get('X-Amz-Date'), /^\d{8}T\d{6}Z$/);
  t.match(short.searchParams.get('X-Amz-SignedHeaders'), /host/);

  // Download all: a presigned link per file cannot be one download, so the API streams the objects into a zip.
  const zip = await p.app.inject({ url: `/api/v1/runs/${id}/outputs.zip` });
  t.equal(zip.statusCode, 200);
  const archived = await readZip(zip.rawPayload);
  t.equal(archived.bad, null);
  t.same(
    archived.entries.map((e) => [e.path, e.sha256]).sort(),
    Object.entries(files)
      .map(([rel, f]) => [rel, sha(f.body)])
      .sort(),
    'every object of the manifest, read from S3',
  );
});

t.test('a wrong checksum or a missing object is a 422 naming the object; nothing is loaded', async (t) => {
  const wrong = await runWithResults(async (prefix) => {
    for (const [rel, f] of Object.entries(files)) await upload(prefix, rel, f.body, f.sha256Stored);
    await upload(prefix, 'manifest.json', JSON.stringify(manifest({ 'qc/a_metrics.csv': 'f'.repeat(64) })));
  });
  const r = await ingest(wrong.id);
  t.equal(r.statusCode, 422);
  t.match(r.json().message, `checksum mismatch for qc/a_metrics.csv (s3://${names.resultsBucket}/${wrong.prefix}/qc/a_metrics.csv)`);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${wrong.id}/samples` })).json().items.length, 0);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${wrong.id}/cells` })).statusCode, 409, 'no per-cell data: not ingested');

  const hashed = await runWithResults(async (prefix) => {
    for (const [rel, f] of Object.entries(files)) await upload(prefix, rel, f.body, f.sha256Stored);
    await upload(prefix, 'manifest.json', JSON.stringify(manifest({ 'qc/b_metrics.csv': '0'.repeat(64) })));
  });
  t.match((await ingest(hashed.id)).json().message, /checksum mismatch for qc\/b_metrics\.csv/, 'also when the bytes are hashed');

  const missing = await runWithResults(async (prefix) => {
    await upload(prefix, 'qc/cells.arrow', cells);
    await upload(prefix, 'manifest.json', JSON.stringify(manifest()));
  });
  const m = await ingest(missing.id);
  t.equal(m.statusCode, 422);
  t.match(m.json().message, `output missing: qc/a_metrics.csv (s3://${names.resultsBucket}/${missing.prefix}/qc/a_metrics.csv)`);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${missing.id}/samples` })).json().items.length, 0);
});

t.test("one gene's expression is read from S3 by ranged GETs, never the whole object", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'scrna-s3-expr-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const made = await makeExpressionFiles(dir);
  const out: Record<string, { body: Uint8Array; kind: string }> = {};
  for (const [rel, kind] of [
    ['integration/cells.arrow', 'cells'],
    ['integration/expression.arrow', 'expression'],
    ['integration/genes.arrow', 'genes'],
  ] as const)
    out[rel] = { body: await readFile(path.join(dir, path.basename(rel))), kind };
  const { id, prefix } = await runWithResults(async (prefix) => {
    for (const [rel, f] of Object.entries(out)) await upload(prefix, rel, f.body);
    const outputs = Object.entries(out).map(([p, f]) => ({
      path: p,
      kind: f.kind,
      sample: null,
      size: f.body.length,
      sha256: sha(f.body),
    }));
    await upload(prefix, 'manifest.json', JSON.stringify({ ...manifest(), outputs }));
  });
  t.equal((await ingest(id)).statusCode, 200);
  const before = requestsFor(prefix, 'integration/expression.arrow').length;
  const r = await p.app.inject({ url: `/api/v1/runs/${id}/expression?gene=Cd3e` });
  t.equal(r.statusCode, 200, r.body);
  const col = decodeExpression(
    r.rawPayload.buffer.slice(r.rawPayload.byteOffset, r.rawPayload.byteOffset + r.rawPayload.length) as ArrayBuffer,
    'Cd3e',
  );
  const truth = made.truth.Cd3e!;
  t.same(
    Array.from(col.values.keys()).filter((i) => col.values[i]! > 0),
    truth.cells,
    'expressed in exactly the cells of the matrix',
  );
  const gets = requestsFor(prefix, 'integration/expression.arrow')
    .slice(before)
    .filter((q) => q.method === 'GET');
  t.ok(gets.length >= 2 && gets.length <= 4, `${gets.length} GETs (footer, then the gene)`);
  t.ok(
    gets.every((q) => /^bytes=\d+-\d+$/.test(q.range ?? '')),
    `each ranged: ${gets.map((q) => q.range).join(', ')}`,
  );
});

t.test('a samplesheet naming an S3 object that does not exist is refused with its row and key', async (t) => {
  const r1 = `s3://${names.rawBucket}/lab/a_S1_L001_R1_001.fastq.gz`;
  const r2 = `s3://${names.rawBucket}/lab/a_S1_L001_R2_001.fastq.gz`;
  await moto.s3.send(new PutObjectCommand({ Bucket: names.rawBucket, Key: 'lab/a_S1_L001_R1_001.fastq.gz', Body: 'x' }));
  const sheet = `sample,batch,fastq_1,fastq_2,chemistry\na,b1,${r1},${r2},10xv3\n`;
  // The pipeline's own samplesheet schema says which columns are paths.
  const p = await platformFor(t, { ...awsPlatform(), launcher: 'local', workflowsDir: path.join(repoRoot, 'workflows') });
  const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload: { samplesheet: sheet } });
  t.equal(r.statusCode, 200);
  const errors = r.json().errors as { column: string; row: number; message: string }[];
  t.same(
    errors.map((e) => [e.row, e.column, e.message]),
    [[1, 'fastq_2', `fastq_2 names no S3 object: ${r2}`]],
  );
  const before = (await p.app.inject({ url: '/api/v1/runs' })).json().total;
  const refused = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: sheet } });
  t.equal(refused.statusCode, 400);
  t.equal(refused.json().column, 'fastq_2');
  t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, before, 'no run was created');
});
