// Gene expression through the API: a run's expression file as the workflow writes it (workflows/bin/expression_file.py
// on a seeded sparse matrix), its gene list by prefix, its markers, and one gene's values decoded as the UI decodes
// them, equal to the matrix; one gene is read by random access (the bytes read are counted); the encoding stays
// within 4 bytes per expressing cell at a million cells.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import t from 'tap';
import { FsResultStore } from '../../api/src/adapters/fs-results.js';
import { ExpressionService } from '../../api/src/domain/expression.js';
import { EXPRESSION_HEADER_BYTES, encodeExpression } from '../../api/src/domain/expression-codec.js';
import type { ResultStore } from '../../api/src/domain/ports.js';
import { decodeExpression } from '../../ui/src/lib/expression.js';
import { EXPRESSION_CELLS as CELLS, EXPRESSION_GENES as GENES, makeExpressionFiles } from '../helpers/expression-files.js';
import { writeOutdir } from '../helpers/outputs.js';
import { platformFor } from './helpers.js';

const MARKERS = {
  key: 'leiden',
  method: 'wilcoxon',
  layer: 'log1p(normalize_total 1e4)',
  reason: null,
  clusters: [
    {
      cluster: '0',
      n_cells: 12000,
      genes: [{ gene: 'Cd3e', score: 12.5, logfoldchange: 3.1, pval_adj: 1e-30, pct_in: 0.9, pct_out: 0.1 }],
    },
    { cluster: '1', n_cells: 8000, genes: [{ gene: 'cd8a', score: 9.5, logfoldchange: null, pval_adj: 1e-20 }] },
  ],
};

t.test('genes, markers and one gene for every cell, as the UI decodes it', async (t) => {
  const p = await platformFor(t);
  const outdir = path.join(p.dataDir, 'runs/x/results');
  await mkdir(path.join(outdir, 'integration'), { recursive: true });
  const made = await makeExpressionFiles(path.join(outdir, 'integration'));
  const file = async (rel: string, kind: string) => ({ [rel]: { kind, sample: null, bytes: await readFile(path.join(outdir, rel)) } });
  await writeOutdir(
    outdir,
    {
      ...(await file('integration/cells.arrow', 'cells')),
      ...(await file('integration/expression.arrow', 'expression')),
      ...(await file('integration/genes.arrow', 'genes')),
    },
    { integration: { n_cells: CELLS, markers: MARKERS } },
  );
  const run = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'expr', status: 'COMPLETED', source: 'platform', outdir });
  const api = (url: string) => p.app.inject({ url: `/api/v1/runs/${run.id}${url}` });
  t.equal((await api('/genes')).statusCode, 409, 'nothing before ingest: 409, the run has no results yet');
  const ingest = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/results` });
  t.equal(ingest.statusCode, 200, ingest.body);

  const cd = (await api('/genes?prefix=cD')).json();
  t.equal(cd.total, 3, 'any case');
  t.same(
    cd.items.map((g: { gene: string }) => g.gene),
    ['CD3D', 'Cd3e', 'cd8a'],
    'by name',
  );
  t.equal(cd.items[1].cells, made.truth.Cd3e!.cells.length, 'with its expressing cells');
  const some = (await api('/genes?prefix=gene&limit=5')).json();
  t.equal(some.items.length, 5, 'bounded by limit');
  t.equal(some.total, GENES - 3, 'total counts every match');
  t.equal((await api('/genes?limit=1000')).statusCode, 400, 'limit at most 100');
  t.same((await api('/genes?prefix=zz')).json(), { items: [], total: 0 });

  t.same((await api('/markers')).json(), MARKERS, "the manifest's markers");

  const order = tableFromIPC((await api('/cells?columns=barcode')).rawPayload)
    .getChild('barcode')!
    .toArray() as string[];
  t.equal(order[0], 'BC0');
  t.equal(order.length, CELLS);
  for (const [gene, truth] of Object.entries(made.truth)) {
    const r = await api(`/expression?gene=${encodeURIComponent(gene)}`);
    t.equal(r.statusCode, 200, gene);
    t.equal(r.headers['content-type'], 'application/vnd.scrna.expression');
    const body = r.rawPayload;
    t.ok(
      body.length <= EXPRESSION_HEADER_BYTES + 4 * truth.cells.length,
      `${gene}: ${body.length} bytes for ${truth.cells.length} expressing cells`,
    );
    const col = decodeExpression(body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer, gene);
    t.equal(col.values.length, CELLS, `${gene}: a value for every cell`);
    const want = new Float32Array(CELLS);
    truth.cells.forEach((c, i) => {
      want[c] = truth.values[i]!;
    });
    const max = Math.max(0, ...truth.values);
    let worst = 0;
    let zerosRight = true;
    for (let i = 0; i < CELLS; i++) {
      worst = Math.max(worst, Math.abs(col.values[i]! - want[i]!));
      if (col.values[i]! > 0 !== want[i]! > 0) zerosRight = false;
    }
    t.ok(zerosRight, `${gene}: expressed exactly where the matrix is non-zero`);
    // Rounded to 1/255 of the maximum; a value below one step still shows as one step (not as unexpressed).
    t.ok(worst <= max / 255 + 1e-6, `${gene}: within one quantisation step (${worst.toFixed(5)} of max ${max.toFixed(3)})`);
  }
  const missing = await api('/expression?gene=NOPE');
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().field, 'gene');
  t.equal((await api('/expression')).statusCode, 400, 'gene is required');

  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  for (const route of ['genes', 'markers', 'expression'])
    t.equal(doc.paths[`/api/v1/runs/{id}/${route}`]?.get?.tags?.[0], 'results', `${route} is in the OpenAPI document`);

  await t.test('random access: one gene costs its own bytes and the footer, not the file', async (t) => {
    const fs = new FsResultStore();
    const reads: { uri: string; bytes: number }[] = [];
    const counting: ResultStore = {
      join: (b, r) => fs.join(b, r),
      exists: (u) => fs.exists(u),
      size: (u) => fs.size(u),
      stream: (u, s) => fs.stream(u, s),
      read: async (uri) => {
        const b = await fs.read(uri);
        reads.push({ uri, bytes: b.length });
        return b;
      },
      readRange: async (uri, start, length) => {
        const b = await fs.readRange(uri, start, length);
        reads.push({ uri, bytes: b.length });
        return b;
      },
    };
    const service = new ExpressionService(p.repos.results, counting);
    const size = (await readFile(path.join(outdir, 'integration/expression.arrow'))).length;
    const r = await service.expression(run, 'GENE0000');
    const onExpression = reads.filter((x) => x.uri.endsWith('expression.arrow'));
    const read = onExpression.reduce((n, x) => n + x.bytes, 0);
    t.equal(r.expressing, made.truth.GENE0000!.cells.length);
    t.equal(read, r.read.bytes, 'the service reports what it read');
    t.ok(read < size / 20, `${read} of ${size} bytes read in ${onExpression.length} ranged reads`);
    t.ok(onExpression.length <= 4, `${onExpression.length} requests (one S3 GET each)`);
    t.notOk(
      reads.some((x) => x.uri.endsWith('expression.arrow') && x.bytes === size),
      'the file is never read whole',
    );
  });
});

t.test('the encoding: at most 4 bytes per expressing cell plus the header at a million cells', async (t) => {
  const n = 1_000_000;
  const cases: Record<string, number[]> = {
    'every cell': Array.from({ length: n }, (_, i) => i),
    'the last cell only': [n - 1],
    'every 1000th': Array.from({ length: n / 1000 }, (_, i) => i * 1000 + 999),
    'two far apart': [0, n - 1],
    'random 5%': Array.from({ length: n }, (_, i) => i).filter((i) => ((i * 2654435761) >>> 0) % 100 < 5),
  };
  for (const [name, cells] of Object.entries(cases)) {
    const values = cells.map((c) => 1 + (c % 7));
    const body = encodeExpression(n, cells, values)!;
    t.ok(body.length <= EXPRESSION_HEADER_BYTES + 4 * cells.length, `${name}: ${body.length} bytes for ${cells.length} cells`);
    const col = decodeExpression(body.buffer as ArrayBuffer, name);
    t.equal(col.values.length, n);
    t.ok(
      cells.every((c, i) => Math.abs(col.values[c]! - values[i]!) <= 7 / 510 + 1e-6),
      `${name}: values round-trip`,
    );
  }
  t.equal(encodeExpression(10, [3, 3], [1, 1]), null, 'cells out of order are refused');
  t.equal(encodeExpression(10, [10], [1]), null, 'cells beyond the run are refused');
});
