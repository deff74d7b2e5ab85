// Synthetic per-cell tables in the contract's Arrow layout, and a tiny HTTP server that serves the built UI
// plus just the API routes the Cells view needs. Used by the component-level browser test and bench/ui.ts;
// the end-to-end test uses the real API instead.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Dictionary, Int8, makeData, makeVector, Table, tableToIPC, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { repoRoot } from '../helpers/paths.js';

export const uiBuild = path.join(repoRoot, 'ui/build');

/** Deterministic PRNG so fixtures and benchmark inputs are the same on every run. */
export function rng(seed = 1) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dictionary(labels: string[], codes: Int8Array): Vector {
  const dict = vectorFromArray(labels, new Utf8());
  return makeVector(
    makeData({ type: new Dictionary(new Utf8(), new Int8()), length: codes.length, nullCount: 0, data: codes, dictionary: dict }),
  );
}

/**
 * `n` cells in `clusters` Gaussian blobs over `samples` samples (two batches), with QC columns whose
 * distributions differ per cluster, like a real dataset's UMAP. `resolutions` adds the workflow's per-resolution
 * clusterings: `leiden_r1` (= `leiden`) and `leiden_r0.5`, which merges clusters in pairs.
 */
export function syntheticCells(
  n: number,
  opts: { clusters?: number; samples?: number; barcodes?: boolean; resolutions?: boolean } = {},
): Table {
  const k = opts.clusters ?? 12;
  const ns = opts.samples ?? 3;
  const r = rng(42);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: k }, (_, i) => [
    Math.cos((2 * Math.PI * i) / k) * (6 + 3 * r()),
    Math.sin((2 * Math.PI * i) / k) * (6 + 3 * r()),
  ]);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const leiden = new Int8Array(n);
  const sample = new Int8Array(n);
  const batch = new Int8Array(n);
  const nGenes = new Int32Array(n);
  const counts = new Float32Array(n);
  const mt = new Float32Array(n);
  const doublet = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * k);
    const s = Math.floor(r() * ns);
    leiden[i] = c;
    sample[i] = s;
    batch[i] = s % 2;
    x[i] = centres[c]![0]! + gauss() * 0.9;
    y[i] = centres[c]![1]! + gauss() * 0.9;
    nGenes[i] = Math.max(200, Math.round(800 + 150 * c + gauss() * 250));
    counts[i] = Math.max(500, nGenes[i]! * (2.2 + 0.4 * r()));
    mt[i] = Math.max(0, 2 + c * 0.3 + gauss() * 1.2);
    doublet[i] = r() ** 4;
  }
  const cols: Record<string, Vector> = {
    sample: dictionary(
      Array.from({ length: ns }, (_, i) => `S${i + 1}`),
      sample,
    ),
    batch: dictionary(['B1', 'B2'], batch),
    n_genes: makeVector(nGenes),
    total_counts: makeVector(counts),
    pct_counts_mt: makeVector(mt),
    doublet_score: makeVector(doublet),
    leiden: dictionary(
      Array.from({ length: k }, (_, i) => String(i)),
      leiden,
    ),
    umap_x: makeVector(x),
    umap_y: makeVector(y),
  };
  if (opts.resolutions) {
    cols['leiden_r1'] = cols.leiden as Vector;
    cols['leiden_r0.5'] = dictionary(
      Array.from({ length: Math.ceil(k / 2) }, (_, i) => String(i)),
      leiden.map((c) => c >> 1),
    );
  }
  if (opts.barcodes) {
    const b = Array.from({ length: n }, (_, i) => `${i.toString(16).toUpperCase().padStart(16, 'A')}-1`);
    cols.barcode = vectorFromArray(b, new Utf8());
  }
  return new Table(cols);
}

export interface FixtureRun {
  id: string;
  cells: Table;
  /** The manifest's integration block, served at /runs/:id/integration; without it that route answers 404. */
  integration?: unknown;
}

export interface FixtureServer {
  url: string;
  /** Bytes of each response body sent for a path prefix, for the benchmark's wire measurements. */
  sent: { path: string; bytes: number }[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/**
 * Serves ui/build (SPA fallback to index.html) and, for one completed run: GET /api/v1/runs/:id, its cells as an
 * Arrow IPC stream of only the requested columns (or as JSON with format=json, for the benchmark's comparison),
 * and the workflow's schema files. Everything else under /api answers 404, which the UI must show as an error.
 */
export async function startFixtureServer(run: FixtureRun): Promise<FixtureServer> {
  const sent: FixtureServer['sent'] = [];
  const cache = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: Buffer | string) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      sent.push({ path: u.pathname, bytes: buf.byteLength });
      res.writeHead(status, { 'content-type': type, 'content-length': buf.byteLength, 'cache-control': 'no-store' });
      res.end(buf);
    };
    if (u.pathname === `/api/v1/runs/${run.id}`) {
      return send(200, 'application/json', JSON.stringify(fixtureRunJson(run)));
    }
    if (u.pathname === `/api/v1/runs/${run.id}/integration` && run.integration)
      return send(200, 'application/json', JSON.stringify(run.integration));
    if (u.pathname === `/api/v1/runs/${run.id}/cells`) {
      const cols = (u.searchParams.get('columns') ?? '').split(',').filter(Boolean);
      const missing = cols.filter((c) => !run.cells.getChild(c));
      if (missing.length) return send(400, 'application/json', JSON.stringify({ message: `unknown column(s): ${missing.join(', ')}` }));
      const key = `${u.searchParams.get('format') ?? 'arrow'}:${cols.join(',')}`;
      let body = cache.get(key);
      const t = cols.length ? run.cells.select(cols) : run.cells;
      if (!body) {
        body = u.searchParams.get('format') === 'json' ? Buffer.from(JSON.stringify(t.toArray())) : Buffer.from(tableToIPC(t, 'stream'));
        cache.set(key, body);
      }
      return send(200, u.searchParams.get('format') === 'json' ? 'application/json' : 'application/vnd.apache.arrow.stream', body);
    }
    if (u.pathname === '/api/v1/schema/params')
      return send(200, 'application/json', readFileSync(path.join(repoRoot, 'workflows/nextflow_schema.json')));
    if (u.pathname === '/api/v1/schema/samplesheet')
      return send(200, 'application/json', readFileSync(path.join(repoRoot, 'workflows/assets/schema_input.json')));
    if (u.pathname.startsWith('/api/'))
      return send(404, 'application/json', JSON.stringify({ message: `fixture server has no ${u.pathname}` }));
    let file = path.join(uiBuild, path.normalize(u.pathname));
    if (!file.startsWith(uiBuild) || !existsSync(file) || statSync(file).isDirectory()) file = path.join(uiBuild, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function fixtureRunJson(run: FixtureRun) {
  return {
    id: run.id,
    name: 'fixture-run',
    status: 'COMPLETED',
    submitter: 'fixture',
    labels: { source: 'fixture' },
    profiles: ['test'],
    source: 'platform',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    completedAt: '2026-01-01T00:10:00.000Z',
    progress: { submitted: 0, running: 0, completed: 10, failed: 0, cached: 0, aborted: 0, total: 10 },
    params: {},
    commandLine: 'nextflow run . -profile test',
    nextflowVersion: '24.10.8',
  };
}
