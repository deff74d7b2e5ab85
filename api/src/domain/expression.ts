// Gene expression of a run's cells: the gene list (prefix search for autocomplete), the marker genes of each cluster
// (from the ingested manifest), and one gene's values for every cell, read from the run's expression file (Arrow IPC
// file, one record batch per gene) by random access through the result store: the matrix is never loaded.
import { RecordBatchReader, tableFromIPC } from 'apache-arrow';
import { DomainError } from './errors.js';
import { encodeExpression } from './expression-codec.js';
import type { OutputRow, ResultStore, Run } from './ports.js';
import { RangedFile, type RangeStats } from './ranged-file.js';
import type { ResultRepository } from './repositories.js';

export type GeneMatch = {
  gene: string;
  /** Cells expressing it (non-zero). */
  cells: number;
};

interface GeneIndex {
  names: string[];
  cells: Int32Array;
  /** Row of each name (record batch of the expression file). */
  row: Map<string, number>;
  /** Rows sorted by lower-cased name, for prefix ranges. */
  sorted: { key: string; row: number }[];
}

/** Gene indices of this many runs are kept (a few kB to a few MB each). */
const INDEX_CACHE_RUNS = 16;

function lowerBound(sorted: GeneIndex['sorted'], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ExpressionService {
  private indices = new Map<string, Promise<GeneIndex>>();

  constructor(
    private readonly results: Pick<ResultRepository, 'outputs' | 'integration'>,
    private readonly files: ResultStore,
  ) {}

  /** Genes whose name starts with `prefix` (any case), by name, at most `limit`; `total` counts every match. */
  async genes(run: Run, prefix: string, limit: number): Promise<{ items: GeneMatch[]; total: number }> {
    const index = await this.index(run);
    const key = prefix.toLowerCase();
    const from = lowerBound(index.sorted, key);
    let to = from;
    while (to < index.sorted.length && index.sorted[to]!.key.startsWith(key)) to++;
    const items = index.sorted
      .slice(from, Math.min(to, from + limit))
      .map(({ row }) => ({ gene: index.names[row]!, cells: index.cells[row]! }));
    return { items, total: to - from };
  }

  /** The manifest's marker genes per cluster. */
  async markers(run: Run): Promise<Record<string, unknown>> {
    const markers = (await this.results.integration(run.id))?.markers;
    if (!markers || typeof markers !== 'object')
      throw new DomainError('conflict', 'no marker genes for this run yet (results not ingested, or a run from before markers)');
    return markers as Record<string, unknown>;
  }

  /** One gene's values for every cell, encoded (expression-codec.ts); `read` says what the file reads cost. */
  async expression(run: Run, gene: string): Promise<{ body: Uint8Array; expressing: number; cells: number; read: RangeStats }> {
    const index = await this.index(run);
    const row = index.row.get(gene);
    if (row === undefined) throw new DomainError('not_found', `no gene '${gene}' in this run`, { field: 'gene' });
    const { uri, output } = await this.located(run, 'expression');
    const file = new RangedFile((start, length) => this.files.readRange(uri, start, length), output.size);
    const corrupt = (why: string) => new DomainError('conflict', `${output.path} ${why}`, { field: 'gene' });
    let reader: RecordBatchReader;
    try {
      // Typed for node's FileHandle; RangedFile has the part of it the reader uses.
      reader = await (RecordBatchReader.from as (source: unknown) => Promise<RecordBatchReader>)(file);
      await reader.open();
    } catch (e) {
      throw corrupt(`is not an Arrow IPC file: ${(e as Error).message}`);
    }
    if (!reader.isFile() || !reader.isAsync()) throw corrupt('is not an Arrow IPC file');
    try {
      if (reader.numRecordBatches !== index.names.length)
        throw corrupt(`has ${reader.numRecordBatches} genes, its gene index ${index.names.length}`);
      const cells = Number(reader.schema.metadata.get('n_cells'));
      const batch = await reader.readRecordBatch(row);
      const rows = batch?.getChild('cell')?.toArray() as ArrayLike<number> | undefined;
      const values = batch?.getChild('value')?.toArray() as ArrayLike<number> | undefined;
      if (!Number.isInteger(cells) || !rows || !values) throw corrupt('lacks n_cells, or the cell and value columns');
      const body = encodeExpression(cells, rows, values);
      if (!body) throw corrupt(`holds cells of ${gene} out of order or beyond the run's ${cells} cells`);
      return { body, expressing: rows.length, cells, read: file.stats };
    } finally {
      await reader.cancel();
    }
  }

  /** The output of a kind, checked unchanged since ingest (its manifest size). */
  private async located(run: Run, kind: 'expression' | 'genes'): Promise<{ uri: string; output: OutputRow }> {
    const output = (await this.results.outputs(run.id)).find((o) => o.kind === kind);
    if (!output || !run.outdir)
      throw new DomainError('conflict', `no per-gene expression for this run yet (no ${kind} output in its ingested manifest)`);
    const uri = this.files.join(run.outdir, output.path);
    if ((await this.files.size(uri)) !== output.size)
      throw new DomainError('conflict', `${output.path} changed or went away since the results were ingested`);
    return { uri, output };
  }

  private async index(run: Run): Promise<GeneIndex> {
    const { uri, output } = await this.located(run, 'genes');
    const key = `${uri}\n${output.sha256}`;
    let hit = this.indices.get(key);
    if (hit) {
      // Most recently used last, so the first key is the one to evict.
      this.indices.delete(key);
    } else {
      hit = this.files.read(uri).then((buf) => readIndex(buf, output.path));
      hit.catch(() => this.indices.delete(key));
    }
    this.indices.set(key, hit);
    while (this.indices.size > INDEX_CACHE_RUNS) this.indices.delete(this.indices.keys().next().value!);
    return hit;
  }
}

function readIndex(buf: Buffer, p: string): GeneIndex {
  let names: string[];
  let cells: Int32Array;
  try {
    const t = tableFromIPC(buf);
    names = (t.getChild('gene')?.toArray() ?? []) as string[];
    cells = Int32Array.from((t.getChild('n_cells')?.toArray() ?? []) as ArrayLike<number>);
  } catch (e) {
    throw new DomainError('conflict', `${p} is not an Arrow IPC file: ${(e as Error).message}`);
  }
  if (!names.length || names.length !== cells.length) throw new DomainError('conflict', `${p} lacks the gene and n_cells columns`);
  const row = new Map(names.map((n, i) => [n, i]));
  const sorted = names.map((n, i) => ({ key: n.toLowerCase(), row: i })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { names, cells, row, sorted };
}
