// Results ingest: the run's <outdir>/manifest.json, read through the ResultStore, checksums verified, then samples,
// metrics, per-cell data and barcode ranks loaded in one transaction.
import { createHash } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { tableFromIPC } from 'apache-arrow';
import { DomainError } from './errors.js';
import type { CellColumns, OutputRow, ResultStore, ResultsBundle, SampleRow, SchemaFiles } from './ports.js';
import type { Repositories } from './repositories.js';

interface Manifest {
  schema_version?: string;
  samples?: Record<string, unknown>[];
  integration?: Record<string, unknown> | null;
  outputs?: { path: string; kind: string; sample?: string | null; size: number; sha256: string }[];
  [k: string]: unknown;
}

/** The manifest fields the API relies on, when the workflow's own manifest.schema.json is not installed. */
const MINIMAL_SCHEMA = {
  type: 'object',
  required: ['schema_version', 'samples', 'outputs'],
  properties: {
    schema_version: { type: 'string' },
    samples: { type: 'array', items: { type: 'object', required: ['sample'], properties: { sample: { type: 'string' } } } },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'kind', 'size', 'sha256'],
        properties: {
          path: { type: 'string' },
          kind: { type: 'string' },
          size: { type: 'integer' },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        },
      },
    },
  },
};

async function sha256(store: ResultStore, uri: string): Promise<string> {
  // A checksum the store verified at upload needs no second download.
  const stored = await store.storedSha256?.(uri);
  if (stored) return stored;
  const h = createHash('sha256');
  for await (const chunk of store.stream(uri)) h.update(chunk);
  return h.digest('hex');
}

/** Arrow IPC file -> plain columns (dictionary columns decoded to strings, bigint to number). */
export function readArrowColumns(buf: Uint8Array): CellColumns {
  const table = tableFromIPC(buf);
  const out: CellColumns = {};
  for (const field of table.schema.fields) {
    const col = table.getChild(field.name)!;
    const values: unknown[] = new Array(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = col.get(i);
      values[i] = typeof v === 'bigint' ? Number(v) : v;
    }
    out[field.name] = values;
  }
  return out;
}

export class ResultsService {
  private validator: ValidateFunction | null = null;

  constructor(
    private readonly repos: Pick<Repositories, 'runs' | 'results'>,
    private readonly files: ResultStore,
    private readonly schemas: SchemaFiles,
  ) {}

  private async validate(): Promise<ValidateFunction> {
    if (this.validator) return this.validator;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    // Without the workflow's own schema installed, the minimal one above.
    const { $schema: _, ...schema }: Record<string, unknown> = (await this.schemas.read('assets/manifest.schema.json')) ?? MINIMAL_SCHEMA;
    this.validator = ajv.compile(schema);
    return this.validator;
  }

  async ingest(runId: string): Promise<{ samples: number; cells: number; outputs: number }> {
    const run = await this.repos.runs.get(runId);
    if (!run) throw new DomainError('not_found', 'run not found');
    if (!run.outdir) throw new DomainError('conflict', 'the run has no output directory');
    const uri = this.files.join(run.outdir, 'manifest.json');
    if (!(await this.files.exists(uri)))
      throw new DomainError('conflict', `no manifest.json in ${run.outdir} (the run has not finished?)`, { field: 'manifest' });
    let manifest: Manifest;
    try {
      manifest = JSON.parse((await this.files.read(uri)).toString('utf8'));
    } catch (e) {
      throw new DomainError('unprocessable', `manifest.json is not JSON: ${(e as Error).message}`, { field: 'manifest' });
    }
    const validate = await this.validate();
    if (!validate(manifest)) {
      const errors = (validate.errors ?? []).map((e) => ({
        field: `manifest${e.instancePath.replaceAll('/', '.')}`,
        message: e.message ?? e.keyword,
      }));
      throw new DomainError('unprocessable', 'manifest.json does not match its schema', { field: errors[0]?.field, errors });
    }
    const outputs: OutputRow[] = [];
    for (const o of manifest.outputs ?? []) {
      if (o.path.startsWith('/') || o.path.split('/').includes('..'))
        throw new DomainError('unprocessable', `output path escapes the output directory: ${o.path}`, { field: 'manifest.outputs' });
      const f = this.files.join(run.outdir, o.path);
      const size = await this.files.size(f);
      if (size === null) throw new DomainError('unprocessable', `output missing: ${o.path} (${f})`, { field: 'manifest.outputs' });
      if (size !== o.size)
        throw new DomainError('unprocessable', `size mismatch for ${o.path} (${f}): manifest ${o.size}, file ${size}`, {
          field: 'manifest.outputs',
        });
      const sum = await sha256(this.files, f);
      if (sum !== o.sha256)
        throw new DomainError('unprocessable', `checksum mismatch for ${o.path} (${f}): manifest ${o.sha256}, file ${sum}`, {
          field: 'manifest.outputs',
        });
      outputs.push({ path: o.path, kind: o.kind, sample: o.sample ?? null, size: o.size, sha256: o.sha256 });
    }
    const samples: SampleRow[] = (manifest.samples ?? []).map((s) => ({
      sample: String(s.sample),
      batch: (s.batch as string) ?? null,
      chemistry: (s.chemistry as string) ?? null,
      registration: (s.registration as Record<string, unknown>) ?? {},
      metrics: (s.metrics as Record<string, unknown>) ?? {},
      qcThresholds: (s.qc_thresholds as Record<string, unknown>) ?? {},
      cellsBeforeQc: Number.isInteger(s.cells_before_qc) ? (s.cells_before_qc as number) : null,
      cellsAfterQc: Number.isInteger(s.cells_after_qc) ? (s.cells_after_qc as number) : null,
    }));
    let cells: CellColumns | null = null;
    const cellOutputs = outputs.filter((o) => o.kind === 'cells');
    for (const o of cellOutputs) {
      const cols = this.arrow(await this.files.read(this.files.join(run.outdir, o.path)), o.path);
      if (!cols.barcode || !cols.sample)
        throw new DomainError('unprocessable', `${o.path} lacks the barcode or sample column`, { field: 'manifest.outputs' });
      cells = cells ? concatColumns(cells, cols) : cols;
    }
    const barcodeRanks: ResultsBundle['barcodeRanks'] = [];
    for (const o of outputs.filter((x) => x.kind === 'barcode_ranks')) {
      const cols = this.arrow(await this.files.read(this.files.join(run.outdir, o.path)), o.path);
      if (!cols.rank) throw new DomainError('unprocessable', `${o.path} lacks the rank column`, { field: 'manifest.outputs' });
      const n = cols.rank.length;
      for (let i = 0; i < n; i++)
        barcodeRanks.push({
          sample: String(cols.sample?.[i] ?? o.sample ?? ''),
          rank: Number(cols.rank![i]),
          umi_count: Number(cols.umi_count?.[i] ?? 0),
          is_cell: Boolean(cols.is_cell?.[i]),
        });
    }
    await this.repos.results.save(runId, { manifest, integration: manifest.integration ?? null, samples, outputs, cells, barcodeRanks });
    return { samples: samples.length, cells: cells?.barcode?.length ?? 0, outputs: outputs.length };
  }

  private arrow(buf: Buffer, p: string): CellColumns {
    try {
      return readArrowColumns(buf);
    } catch (e) {
      throw new DomainError('unprocessable', `${p} is not an Arrow IPC file: ${(e as Error).message}`, { field: 'manifest.outputs' });
    }
  }
}

function concatColumns(a: CellColumns, b: CellColumns): CellColumns {
  const na = a.barcode!.length;
  const nb = b.barcode!.length;
  const out: CellColumns = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    out[k] = [...(a[k] ? Array.from(a[k]) : new Array(na).fill(null)), ...(b[k] ? Array.from(b[k]) : new Array(nb).fill(null))];
  return out;
}
