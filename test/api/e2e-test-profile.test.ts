// The platform's own pipeline with -profile test, launched through the API: it reaches COMPLETED with every task
// recorded (events and trace agree), its manifest ingested, and QC and cells queryable.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tableFromIPC } from 'apache-arrow';
import t from 'tap';
import { EXPRESSION_HEADER_BYTES } from '../../api/src/domain/expression-codec.js';
import { decodeExpression } from '../../ui/src/lib/expression.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const workflows = path.join(repoRoot, 'workflows');

t.test(
  'a test-profile run launched through the API',
  { skip: !existsSync(path.join(workflows, 'main.nf')) && 'workflows/main.nf is not there yet' },
  async (t) => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const p = await platformFor(t, { pipeline: repoRoot, workflowsDir: workflows, port, publicUrl: `http://127.0.0.1:${port}` });
    await p.app.listen({ host: '127.0.0.1', port });

    const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'], name: 'e2e test profile' } });
    t.equal(r.statusCode, 201, r.body);
    const id = r.json().id as string;
    let run: Record<string, unknown> & { status: string; progress: { submitted: number; running: number; total: number } } = r.json();
    for (let i = 0; i < 40 * 60; i++) {
      run = (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
      if (['FAILED', 'CANCELLED'].includes(run.status) || (run.status === 'COMPLETED' && run.resultsIngestedAt)) break;
      await sleep(1000);
    }
    if (run.status !== 'COMPLETED') {
      const log = await p.app.inject({ url: `/api/v1/runs/${id}/log` });
      t.fail(`run ended ${run.status}: ${run.errorMessage}\n${log.body.slice(-3000)}`);
      return;
    }
    t.ok(run.resultsIngestedAt, 'manifest ingested');

    // Every task in Nextflow's trace file is a task row, in the same state.
    const trace = (await readFile(path.join(String(run.outdir), 'pipeline_info/trace.txt'), 'utf8')).trim().split('\n');
    const cols = trace[0]!.split('\t');
    const fromTrace = trace
      .slice(1)
      .map((l) => l.split('\t'))
      .map((c) => `${c[cols.indexOf('task_id')]}:${c[cols.indexOf('status')]}`)
      .sort();
    const tasks = (await p.app.inject({ url: `/api/v1/runs/${id}/tasks?limit=1000` })).json();
    t.same(
      tasks.items.map((x: { task_id: number; status: string }) => `${x.task_id}:${x.status}`).sort(),
      fromTrace,
      'tasks equal the trace',
    );
    t.equal(run.progress.total, fromTrace.length);
    t.equal(run.progress.submitted + run.progress.running, 0);
    t.ok((run.delivery as { eventsReceived: number }).eventsReceived > fromTrace.length, 'live events arrived');

    const samples = (await p.app.inject({ url: `/api/v1/runs/${id}/samples` })).json().items;
    t.ok(samples.length >= 2, `${samples.length} samples`);
    for (const s of samples) {
      t.type(s.metrics['Estimated Number of Cells'], 'number', `${s.sample} has count metrics`);
      t.ok(s.cellsAfterQc > 0, `${s.sample} kept cells after QC`);
    }
    const cells = await p.app.inject({ url: `/api/v1/runs/${id}/cells?columns=umap_x,umap_y,leiden,sample` });
    t.equal(cells.statusCode, 200);
    const table = tableFromIPC(cells.rawPayload);
    t.equal(
      table.numRows,
      samples.reduce((n: number, s: { cellsAfterQc: number }) => n + s.cellsAfterQc, 0),
      'one row per cell kept',
    );
    t.same(
      table.schema.fields.map((f) => f.name),
      ['umap_x', 'umap_y', 'leiden', 'sample'],
    );
    const integration = (await p.app.inject({ url: `/api/v1/runs/${id}/integration` })).json();
    t.type(integration.n_cells, 'number');

    // Markers and one gene's expression from the run's own files, in the order of the cells route.
    const markers = (await p.app.inject({ url: `/api/v1/runs/${id}/markers` })).json();
    t.equal(markers.clusters.length, integration.n_clusters, 'markers for every cluster');
    const top = markers.clusters[0].genes[0].gene as string;
    const genes = (await p.app.inject({ url: `/api/v1/runs/${id}/genes?prefix=${top.slice(0, 3)}&limit=100` })).json();
    t.ok(
      genes.items.some((g: { gene: string }) => g.gene === top),
      `${top} is found by its prefix (${genes.total} matches)`,
    );
    const expr = await p.app.inject({ url: `/api/v1/runs/${id}/expression?gene=${top}` });
    t.equal(expr.statusCode, 200);
    const body = expr.rawPayload;
    const col = decodeExpression(body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer, top);
    t.equal(col.values.length, table.numRows, 'a value for every cell of the cells route');
    const expressing = col.values.filter((v) => v > 0).length;
    t.equal(expressing, genes.items.find((g: { gene: string }) => g.gene === top).cells, 'as many expressing cells as the gene list says');
    t.ok(body.length <= EXPRESSION_HEADER_BYTES + 4 * expressing, `${body.length} bytes for ${expressing} expressing cells`);
  },
);
