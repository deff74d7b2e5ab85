// A run's outputs with SCRNA_REQUIRE_AUTH on: every manifest output listed and downloaded with its checksum, byte
// ranges (206, 416, If-Range, If-None-Match), and refusals (unlisted paths, `..`, another project's run) as 404s.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { OutputService } from '../../api/src/domain/outputs.js';
import type { ResultStore, Run } from '../../api/src/domain/ports.js';
import { sha256, writeOutdir } from '../helpers/outputs.js';
import { readZip } from '../helpers/zip.js';
import { platformFor } from './helpers.js';

const ADMIN = 'admin-token-for-outputs-0123456789';

t.test('outputs: list, download, ranges, refusals', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const asAdmin = { authorization: `Bearer ${ADMIN}` };
  // Alice's run is in her project; Bob's token is of another.
  const mint = async (name: string) => {
    await p.app.inject({ method: 'POST', url: '/api/v1/projects', payload: { id: name }, headers: asAdmin });
    return (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, project: name }, headers: asAdmin })).json() as {
      id: string;
      token: string;
    };
  };
  const alice = await mint('alice');
  const bob = await mint('bob');
  const outdir = path.join(p.dataDir, 'runs/r1/results');
  const run = await p.repos.runs.create({
    id: crypto.randomUUID(),
    name: 'done',
    status: 'COMPLETED',
    source: 'platform',
    outdir,
    owner: alice.id,
    project: 'alice',
  });
  const as = (token: string | null, url: string, headers: Record<string, string> = {}) =>
    p.app.inject({ url: `/api/v1/runs/${run.id}${url}`, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

  t.same((await as(alice.token, '/outputs')).json(), { items: [] }, 'nothing listed before ingest');
  const written = await writeOutdir(outdir);
  // A file in the outdir that the manifest does not list, and one outside it.
  await writeFile(path.join(outdir, 'unlisted.txt'), 'not in the manifest');
  await writeFile(path.join(p.dataDir, 'runs/r1/secret.txt'), 'outside the outdir');
  const ingest = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/${run.id}/results`,
    headers: { authorization: `Bearer ${alice.token}` },
  });
  t.equal(ingest.statusCode, 200, ingest.body);

  const list = await as(alice.token, '/outputs');
  t.equal(list.statusCode, 200);
  t.same(
    list.json().items,
    written.map(({ bytes: _, ...o }) => o),
    'every manifest output, by path, with kind, sample, size and sha256',
  );

  for (const o of written) {
    const r = await as(alice.token, `/outputs/${o.path}`);
    t.equal(r.statusCode, 200, o.path);
    t.equal(r.rawPayload.length, o.size, `${o.path}: all its bytes`);
    t.equal(sha256(r.rawPayload), o.sha256, `${o.path}: checksum matches`);
    t.equal(r.headers['content-length'], String(o.size));
    t.equal(r.headers.etag, `"${o.sha256}"`);
    t.equal(r.headers['accept-ranges'], 'bytes');
    t.match(r.headers['content-disposition'], /^attachment; filename="/);
  }
  const type = async (p: string) => (await as(alice.token, `/outputs/${p}`)).headers['content-type'];
  t.equal(await type('count/pbmc1/metrics_summary.csv'), 'text/csv; charset=utf-8');
  t.equal(await type('integrate/integrated.h5ad'), 'application/x-hdf5');
  const html = await as(alice.token, '/outputs/qc/report.html');
  t.equal(html.headers['content-security-policy'], 'sandbox', 'an HTML output cannot script the API origin');
  t.equal(html.headers['x-content-type-options'], 'nosniff');

  const big = written.find((o) => o.path.endsWith('.h5ad'))!;
  const url = `/outputs/${big.path}`;
  const range = await as(alice.token, url, { range: 'bytes=70000-200000' });
  t.equal(range.statusCode, 206);
  t.equal(range.headers['content-range'], `bytes 70000-200000/${big.size}`);
  t.equal(range.headers['content-length'], '130001');
  t.ok(range.rawPayload.equals(big.bytes.subarray(70000, 200001)), 'the range spans reads and stops at its end');
  const tail = await as(alice.token, url, { range: 'bytes=299990-' });
  t.ok(tail.rawPayload.equals(big.bytes.subarray(299990)), 'open-ended range');
  const suffix = await as(alice.token, url, { range: 'bytes=-7' });
  t.equal(suffix.headers['content-range'], `bytes ${big.size - 7}-${big.size - 1}/${big.size}`);
  t.ok(suffix.rawPayload.equals(big.bytes.subarray(big.size - 7)), 'suffix range');
  const past = await as(alice.token, url, { range: `bytes=${big.size}-` });
  t.equal(past.statusCode, 416, 'a range past the end is unsatisfiable');
  t.equal(past.headers['content-range'], `bytes */${big.size}`);
  t.equal(past.json().field, 'range');
  t.equal((await as(alice.token, url, { range: 'bytes=5-2' })).statusCode, 416, 'end before start');
  t.equal((await as(alice.token, '/outputs/qc/empty.txt', { range: 'bytes=0-' })).statusCode, 416, 'no byte of an empty file');
  const stale = await as(alice.token, url, { range: 'bytes=0-9', 'if-range': `"${'0'.repeat(64)}"` });
  t.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole file, not a splice');
  t.equal(stale.rawPayload.length, big.size);
  t.equal((await as(alice.token, url, { range: 'bytes=0-9', 'if-range': `"${big.sha256}"` })).statusCode, 206);
  t.equal((await as(alice.token, url, { range: 'bytes=0-1,5-6' })).statusCode, 200, 'several ranges: the whole file');
  const cached = await as(alice.token, url, { 'if-none-match': `"${big.sha256}"` });
  t.equal(cached.statusCode, 304);
  t.equal(cached.rawPayload.length, 0);

  const refused = [
    'unlisted.txt',
    'manifest.json',
    '../secret.txt',
    'count/../unlisted.txt',
    '%2e%2e/secret.txt',
    'count%2F..%2F..%2Fsecret.txt',
    `${outdir}/unlisted.txt`,
    'count/pbmc1',
    '',
  ];
  for (const bad of refused) {
    const r = await as(alice.token, `/outputs/${bad}`);
    t.equal(r.statusCode, 404, `${bad || '(empty)'} is not served`);
    t.notMatch(r.body, /outside the outdir|not in the manifest/, 'no bytes of the file');
  }
  for (const u of ['/outputs', `/outputs/${big.path}`]) {
    const foreign = await as(bob.token, u);
    t.equal(foreign.statusCode, 404, `${u}: another project's run`);
    t.equal(foreign.json().message, 'run not found');
    t.equal((await as(null, u)).statusCode, 401, `${u}: no token`);
  }
  t.equal((await as(ADMIN, url)).statusCode, 200, 'an admin reads any run');

  const zip = await as(alice.token, '/outputs.zip');
  t.equal(zip.statusCode, 200, 'download all');
  t.equal(zip.headers['content-type'], 'application/zip');
  t.equal(zip.headers['content-length'], String(zip.rawPayload.length), 'its exact length, announced before the bytes');
  t.match(zip.headers['content-disposition'], /^attachment; filename="done-[0-9a-f]{8}-outputs\.zip"/);
  const archived = await readZip(zip.rawPayload);
  t.equal(archived.bad, null, 'every member passes its CRC check');
  t.same(
    archived.entries,
    written.map((o) => ({ path: o.path, size: o.size, sha256: o.sha256 })),
    'every output under its manifest path, with its bytes',
  );
  t.equal((await as(bob.token, '/outputs.zip')).statusCode, 404, "not another user's run");

  // Bytes that no longer match the manifest are not served under its checksum, alone or in the archive.
  await writeFile(path.join(outdir, 'count/pbmc1/metrics_summary.csv'), 'changed');
  const changed = await as(alice.token, '/outputs/count/pbmc1/metrics_summary.csv');
  t.equal(changed.statusCode, 409);
  t.match(changed.json().message, /changed since the results were ingested/);
  const brokenZip = await as(alice.token, '/outputs.zip');
  t.equal(brokenZip.statusCode, 409, 'the archive is refused before its first byte');
  t.match(brokenZip.json().message, /count\/pbmc1\/metrics_summary\.csv changed since the results were ingested/);

  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  t.ok(doc.paths['/api/v1/runs/{id}/outputs'].get, 'the list is in the OpenAPI document');
  t.ok(doc.paths['/api/v1/runs/{id}/outputs/{*}'].get.responses['206'], 'and the download, with its range answer');
  t.ok(doc.paths['/api/v1/runs/{id}/outputs.zip'].get, 'and the archive');
});

t.test('a store that presigns URLs answers with one and reads nothing itself', async (t) => {
  // The S3 result store is another adapter's work: this in-memory store stands in for its url() seam only.
  const calls: string[] = [];
  const store: ResultStore = {
    join: (b, r) => `${b}/${r}`,
    exists: async () => true,
    size: async () => {
      calls.push('size');
      return 3;
    },
    read: async () => Buffer.alloc(0),
    stream: async function* () {},
    readRange: async () => Buffer.alloc(0),
    url: async (uri, expires) => `https://example.invalid/${uri}?expires=${expires}`,
  };
  const output = { path: 'a/b.csv', kind: 'metrics', sample: null, size: 3, sha256: 'f'.repeat(64) };
  const svc = new OutputService({ outputs: async () => [output] }, store);
  const run = { id: 'r', outdir: 's3://bucket/run' } as Run;
  const source = await svc.locate(run, 'a/b.csv');
  t.same(source, { kind: 'url', output, url: 'https://example.invalid/s3://bucket/run/a/b.csv?expires=300' });
  t.same(calls, [], 'no stat of the object: the URL is the answer');
  const refused = await svc.locate(run, 'a/../a/b.csv').then(
    () => null,
    (e: { kind: string }) => e.kind,
  );
  t.equal(refused, 'not_found', 'only listed paths, here too');
});
