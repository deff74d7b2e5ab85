// R4: the malformed-input corpus (test/fixtures/malformed, 500+ inputs with their expected answers in index.json)
// sent the way a user or a machine sends each: trace files (new runs and into an existing run), FASTQ and matrix
// samplesheets and params (POST /runs), event bodies (POST /events), manifests (POST /runs/{id}/results) and S3
// "Object Created" payloads (the upload Lambda's handler, with the real API behind it). For every input: the answer
// expected (never a 5xx), a message that names the field, or the line and column, and the row count of every table
// unchanged when refused (no partial write); an input answered 2xx must have left rows behind.
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { createHandler, type ObjectCreatedEvent } from '../../infra/src/lambda/upload-trigger.js';
import type { Expected } from '../fixtures/malformed/generate.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const corpus = path.join(repoRoot, 'test/fixtures/malformed');

t.test('malformed inputs: precise 4xx, never 5xx, nothing half-written', async (t) => {
  const index: Expected[] = JSON.parse(await readFile(path.join(corpus, 'index.json'), 'utf8'));
  t.ok(index.length >= 500, `${index.length} inputs`);
  // Launches the corpus gets past validation would start this stand-in, not a pipeline (none should get that far).
  const bin = path.join(await mkdtemp(path.join(tmpdir(), 'corpus-nf-')), 'nextflow');
  await writeFile(bin, '#!/bin/sh\nexit 0\n');
  await chmod(bin, 0o755);
  // The pipeline's own schemas (both samplesheet kinds, the full params schema, the manifest schema).
  const p = await platformFor(t, { workflowsDir: path.join(repoRoot, 'workflows'), nextflowBin: bin, adminToken: 'corpus-admin-token' });
  await p.app.listen({ port: 0, host: '127.0.0.1' });
  const apiUrl = `http://127.0.0.1:${(p.app.server.address() as AddressInfo).port}`;
  const auth = { authorization: 'Bearer corpus-admin-token' };

  const tables: string[] = (
    await p.pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
  ).rows.map((r) => r.table_name);
  t.ok(tables.length >= 10, `row counts of ${tables.length} tables`);
  const counts = async () =>
    (await p.pool.query(tables.map((n) => `SELECT '${n}' AS t, count(*)::int AS n FROM "${n}"`).join(' UNION ALL '))).rows
      .map((r) => `${r.t}=${r.n}`)
      .join(' ');

  // A run to import traces into and one whose outdir holds qc/a.txt for the manifests.
  const seeded = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=corpus-target',
    payload: 'task_id\tstatus\n1\tCOMPLETED\n',
    headers: { 'content-type': 'text/plain', ...auth },
  });
  const traceTarget = seeded.json().run.id as string;
  const outdir = path.join(p.dataDir, 'runs/corpus/results');
  await mkdir(path.join(outdir, 'qc'), { recursive: true });
  await writeFile(path.join(outdir, 'qc/a.txt'), 'abc\n');
  const manifestRun = await p.repos.runs.create({
    id: crypto.randomUUID(),
    name: 'corpus',
    status: 'COMPLETED',
    source: 'platform',
    outdir,
  });

  // The handler never reaches S3 for these payloads (each is ignored or refused before); a client pointed at a
  // closed loopback port makes one that did fail loudly instead of passing.
  const trigger = createHandler({
    s3: new S3Client({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, maxAttempts: 1 }),
    apiUrl,
    token: async () => 'corpus-admin-token',
    samplesheetName: 'samplesheet.csv',
    fastqSuffixes: ['.fastq.gz', '.fq.gz'],
    profiles: [],
  });

  const fill = (s: string) => s.replaceAll('{DATA}', p.dataDir);
  async function send(e: Expected, bytes: Buffer, i: number) {
    const text = fill(bytes.toString('utf8'));
    switch (e.kind) {
      case 'trace':
        // Alternately a new run from the file and an import into a run that has tasks already.
        return p.app.inject({
          method: 'POST',
          url: i % 2 ? `/api/v1/runs/${traceTarget}/trace` : '/api/v1/runs/trace',
          payload: bytes,
          headers: { 'content-type': 'text/plain', ...auth },
        });
      case 'fastq-sheet':
        return p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: text }, headers: auth });
      case 'matrix-sheet':
        return p.app.inject({
          method: 'POST',
          url: '/api/v1/runs',
          payload: { samplesheet: text, params: { input_type: 'matrix' } },
          headers: auth,
        });
      case 'params':
        return p.app.inject({
          method: 'POST',
          url: '/api/v1/runs',
          payload: { params: JSON.parse(text), profiles: ['test'] },
          headers: auth,
        });
      case 'event':
        return p.app.inject({
          method: 'POST',
          url: '/api/v1/events',
          payload: bytes,
          headers: { 'content-type': 'application/json', ...auth },
        });
      case 'manifest':
        await writeFile(path.join(outdir, 'manifest.json'), bytes);
        return p.app.inject({ method: 'POST', url: `/api/v1/runs/${manifestRun.id}/results`, headers: auth });
      default:
        throw new Error(`no sender for ${e.kind}`);
    }
  }

  const tally = { fiveXx: 0, partial: 0, unlocated: 0, lost: 0 };
  for (const [i, e] of index.entries()) {
    const bytes = await readFile(path.join(corpus, e.file));
    const before = await counts();
    let got: Record<string, unknown>;
    if (e.kind === 's3-event') {
      try {
        const r = await trigger(JSON.parse(bytes.toString('utf8')) as ObjectCreatedEvent);
        got = { status: r.action === 'ignored' ? 'ignored' : r.action };
      } catch (err) {
        const m = (err as Error).message;
        // Refused by the handler itself (names the event field) or by the API (its 400 names the request field).
        const apiField = /-> 4\d\d: (\{.*)/.exec(m)?.[1];
        const field = apiField
          ? (JSON.parse(apiField.replace(/\.\.\.$/, '')) as { field?: string }).field
          : /detail\.\w+\.\w+/.exec(m)?.[0];
        if (/-> 5\d\d/.test(m)) tally.fiveXx++;
        got = { status: 'rejected', field };
      }
    } else {
      const r = await send(e, bytes, i);
      const body = String(r.headers['content-type'] ?? '').includes('json') ? r.json() : {};
      if (r.statusCode >= 500) tally.fiveXx++;
      if (r.statusCode >= 400 && !body.field && body.line === undefined) tally.unlocated++;
      got = { status: r.statusCode, field: body.field, line: body.line, column: body.column };
    }
    const after = await counts();
    const refused = typeof got.status !== 'number' || (got.status as number) >= 400;
    if (refused && after !== before) tally.partial++;
    if (!refused && got.status !== 'ignored' && after === before) tally.lost++;
    const want: Record<string, unknown> = { status: e.status };
    if (e.field !== undefined) want.field = e.field;
    if (e.fieldPrefix !== undefined)
      want.field = typeof got.field === 'string' && got.field.startsWith(e.fieldPrefix) ? got.field : `${e.fieldPrefix}…`;
    if (e.line !== undefined) want.line = e.line;
    if (e.column !== undefined) want.column = e.column;
    const compared = Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]));
    t.same({ ...compared, rowsChanged: after !== before }, { ...want, rowsChanged: false }, `${e.file}: ${e.why}`);
  }
  t.same(
    tally,
    { fiveXx: 0, partial: 0, unlocated: 0, lost: 0 },
    `${index.length} inputs: 0 answered 5xx, 0 partial writes, every refusal located, nothing accepted lost`,
  );
});
