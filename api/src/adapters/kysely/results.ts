// A run's ingested results: samples, outputs, integration metrics (on the run row), per-cell data and barcode ranks.
import { sql } from 'kysely';
import type { CellColumns, OutputRow, ResultsBundle, SampleRow } from '../../domain/ports.js';
import type { ResultRepository } from '../../domain/repositories.js';
import { copyEscape, copyFrom } from './copy.js';
import type { Scope } from './scope.js';

const CELL_COLUMNS = [
  'barcode',
  'sample',
  'batch',
  'n_genes',
  'total_counts',
  'pct_counts_mt',
  'doublet_score',
  'leiden',
  'umap_x',
  'umap_y',
];

/** COPY text of the cells, 5,000 a chunk; columns the table has not go into `extra`. */
function* cellsText(runId: string, cells: CellColumns): Generator<string> {
  const n = cells.barcode?.length ?? 0;
  const extras = Object.keys(cells).filter((k) => !CELL_COLUMNS.includes(k));
  for (let start = 0; start < n; start += 5000) {
    let chunk = '';
    for (let i = start; i < Math.min(n, start + 5000); i++) {
      chunk += `${runId}\t${i}`;
      for (const k of CELL_COLUMNS) chunk += `\t${copyEscape(cells[k]?.[i] ?? null)}`;
      const extra: Record<string, unknown> = {};
      for (const k of extras) extra[k] = cells[k]![i];
      chunk += `\t${copyEscape(extra)}\n`;
    }
    yield chunk;
  }
}

export class KyselyResultRepository implements ResultRepository {
  constructor(private readonly s: Scope) {}

  async save(runId: string, b: ResultsBundle): Promise<void> {
    await this.s.transaction(async ({ db, sql: q, client }) => {
      for (const t of ['samples', 'outputs', 'cells', 'barcode_ranks'] as const)
        await db.deleteFrom(t).where('run_id', '=', runId).execute();
      if (b.samples.length)
        await db
          .insertInto('samples')
          .values(
            b.samples.map((s) => ({
              run_id: runId,
              sample: s.sample,
              batch: s.batch,
              chemistry: s.chemistry,
              registration: JSON.stringify(s.registration),
              metrics: JSON.stringify(s.metrics),
              qc_thresholds: JSON.stringify(s.qcThresholds),
              cells_before_qc: s.cellsBeforeQc,
              cells_after_qc: s.cellsAfterQc,
            })),
          )
          .execute();
      // Outputs and barcode ranks as arrays through unnest: one statement for any number of rows (a multi-row
      // VALUES would pass Postgres's 65,535 bind parameters at ~13,000 barcode ranks).
      if (b.outputs.length)
        await q.query(
          `INSERT INTO outputs (run_id, path, kind, sample, size, sha256)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])`,
          [
            runId,
            b.outputs.map((o) => o.path),
            b.outputs.map((o) => o.kind),
            b.outputs.map((o) => o.sample),
            b.outputs.map((o) => o.size),
            b.outputs.map((o) => o.sha256),
          ],
        );
      if (b.cells)
        await copyFrom(client, `COPY cells (run_id, idx, ${CELL_COLUMNS.join(', ')}, extra) FROM STDIN`, cellsText(runId, b.cells));
      if (b.barcodeRanks.length) {
        const r = b.barcodeRanks;
        await q.query(
          `INSERT INTO barcode_ranks (run_id, sample, rank, umi_count, is_cell)
           SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::bool[]) ON CONFLICT DO NOTHING`,
          [runId, r.map((x) => x.sample), r.map((x) => x.rank), r.map((x) => x.umi_count), r.map((x) => x.is_cell)],
        );
      }
      await db
        .updateTable('runs')
        .set({
          manifest: JSON.stringify(b.manifest),
          integration: b.integration ? JSON.stringify(b.integration) : null,
          results_ingested_at: sql`now()`,
          updated_at: sql`now()`,
        })
        .where('id', '=', runId)
        .execute();
    });
  }

  async samples(runId: string): Promise<SampleRow[]> {
    const rows = await this.s.db.selectFrom('samples').selectAll().where('run_id', '=', runId).orderBy('sample').execute();
    return rows.map((r) => ({
      sample: r.sample,
      batch: r.batch,
      chemistry: r.chemistry,
      registration: r.registration,
      metrics: r.metrics,
      qcThresholds: r.qc_thresholds,
      cellsBeforeQc: r.cells_before_qc,
      cellsAfterQc: r.cells_after_qc,
    }));
  }

  outputs(runId: string): Promise<OutputRow[]> {
    return this.s.db
      .selectFrom('outputs')
      .select(['path', 'kind', 'sample', 'size', 'sha256'])
      .where('run_id', '=', runId)
      .orderBy('path')
      .execute();
  }

  async integration(runId: string): Promise<Record<string, unknown> | null> {
    const r = await this.s.db.selectFrom('runs').select('integration').where('id', '=', runId).executeTakeFirst();
    return r?.integration ?? null;
  }

  async manifest(runId: string): Promise<Record<string, unknown> | null> {
    const r = await this.s.db.selectFrom('runs').select('manifest').where('id', '=', runId).executeTakeFirst();
    return r?.manifest ?? null;
  }

  async cellColumnNames(runId: string): Promise<string[]> {
    const rows = await this.s.db
      .selectFrom((eb) => eb.selectFrom('cells').select('extra').where('run_id', '=', runId).limit(1000).as('x'))
      .select(sql<string>`jsonb_object_keys(x.extra)`.as('k'))
      .distinct()
      .execute();
    return [...CELL_COLUMNS, ...rows.map((r) => r.k).sort()];
  }

  async cells(runId: string, columns: string[] | null): Promise<CellColumns | null> {
    const names = columns ?? (await this.cellColumnNames(runId));
    const exprs = names.map((n, i) => (CELL_COLUMNS.includes(n) ? `"${n}" AS c${i}` : `extra -> ($2::text[])[${i + 1}] AS c${i}`));
    // Array rows: up to millions of cells are read column-wise, without an object per row.
    const { rows } = await this.s.sql.query({
      text: `SELECT ${exprs.join(', ')} FROM cells WHERE run_id = $1 AND $2::text[] IS NOT NULL ORDER BY idx`,
      values: [runId, names],
      rowMode: 'array',
    });
    if (!rows.length) return null;
    const out: CellColumns = {};
    names.forEach((n, i) => {
      out[n] = rows.map((r: unknown[]) => r[i] ?? null);
    });
    return out;
  }

  async barcodeRanks(runId: string) {
    const rows = await this.s.db
      .selectFrom('barcode_ranks')
      .select(['sample', 'rank', 'umi_count', 'is_cell'])
      .where('run_id', '=', runId)
      .orderBy('sample')
      .orderBy('rank')
      .execute();
    return {
      sample: rows.map((r) => r.sample),
      rank: rows.map((r) => r.rank),
      umi_count: rows.map((r) => r.umi_count),
      is_cell: rows.map((r) => r.is_cell),
    };
  }
}
