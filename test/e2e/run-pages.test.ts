// The run pages against the real API (fresh Postgres database) in Debian Chromium, with runs filled through the
// platform's own paths instead of a Nextflow run: a trace upload for the task table, the run-finished path
// (results ingested from the manifest, run-change notification) for the Cells page.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tableToIPC } from 'apache-arrow';
import t from 'tap';
import { repoRoot } from '../helpers/paths.js';
import { syntheticCells } from './fixtures.js';
import { browserSession } from './platform.js';

// The fixture workflows folder has no manifest schema, so the API checks results against its minimal one.
const { base, platform, dataDir, page, pageErrors } = await browserSession(t, 'pages', {
  workflowsDir: path.join(repoRoot, 'test/api/fixtures/workflows'),
});

async function newRun(name: string) {
  const id = crypto.randomUUID();
  const outdir = path.join(dataDir, name, 'results');
  mkdirSync(outdir, { recursive: true });
  await platform.repos.runs.create({ id, name, status: 'RUNNING', source: 'platform', outdir });
  return { id, outdir };
}

t.test('task filters: Process, Tag and Status narrow the rows the server returns', async (t) => {
  const run = await newRun('filters');
  // Tags with LIKE's own wildcards: the filter must match them literally (the API escapes them).
  const tasks = [
    { id: 1, process: 'ALIGN', tag: 'pbmc_1', status: 'COMPLETED' },
    { id: 2, process: 'ALIGN', tag: 'pbmc_2', status: 'FAILED' },
    { id: 3, process: 'STARSOLO_COUNT', tag: 'pbmc_1', status: 'COMPLETED' },
    { id: 4, process: 'STARSOLO_COUNT', tag: 'pbmc_2', status: 'CACHED' },
    { id: 5, process: 'INTEGRATE', tag: '10%_subset', status: 'COMPLETED' },
    { id: 6, process: 'QC_REPORT', tag: 'pbmcX1', status: 'FAILED' },
    { id: 7, process: 'VALIDATE_INPUT', tag: 'sheet', status: 'COMPLETED' },
  ];
  const trace = [
    'task_id\thash\tnative_id\tprocess\ttag\tname\tstatus\texit',
    ...tasks.map(
      (k) =>
        `${k.id}\t${k.id}a/00000${k.id}\t${100 + k.id}\t${k.process}\t${k.tag}\t${k.process} (${k.tag})\t${k.status}\t${k.status === 'FAILED' ? 1 : 0}`,
    ),
  ].join('\n');
  const up = await fetch(`${base}/api/v1/runs/${run.id}/trace`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: `${trace}\n`,
  });
  t.equal(up.status, 200, await up.clone().text());

  const ids = async () =>
    (await page.getByTestId('tasks-table').locator('tbody tr td:first-child').allTextContents()).map((s) => Number(s.trim()));
  const expect = (pred: (k: (typeof tasks)[number]) => boolean) => tasks.filter(pred).map((k) => k.id);
  // The table re-renders when the load for the new URL finishes: wait until it shows the expected rows. Each
  // step expects other rows than the one before, so a step cannot pass on the previous step's table.
  async function shows(want: number[], what: string) {
    const rows = page.getByTestId('tasks-table').locator('tbody tr');
    if (want.length === 0) await page.getByText('No tasks match.').waitFor({ timeout: 15000 });
    else
      await page
        .waitForFunction(
          (w) => {
            const got = [...document.querySelectorAll('[data-testid=tasks-table] tbody tr td:first-child')].map((c) =>
              Number(c.textContent),
            );
            return got.length === w.length && got.every((v, i) => v === w[i]);
          },
          want,
          { timeout: 15000 },
        )
        .catch(() => undefined);
    t.same(want.length ? await ids() : [], want, what);
    if (!want.length) t.equal(await rows.count(), 0, `${what}: no rows`);
  }

  await page.goto(`${base}/runs/${run.id}/tasks`);
  await shows(
    expect(() => true),
    'all tasks',
  );
  const process = page.getByLabel('Process');
  const tag = page.getByLabel('Tag');
  const status = page.getByLabel('Status');

  await process.pressSequentially('ALI');
  await shows(
    expect((k) => k.process.includes('ALI')),
    'process contains ALI',
  );
  await process.pressSequentially('GN');
  await shows(
    expect((k) => k.process.includes('ALIGN')),
    'process contains ALIGN',
  );
  t.match(page.url(), /[?&]process=ALIGN(&|$)/, 'the filter is in the URL');
  await process.fill('count');
  await shows(
    expect((k) => k.process.toLowerCase().includes('count')),
    'process match ignores case',
  );
  await process.fill('');
  await shows(
    expect(() => true),
    'clearing the process filter brings every row back',
  );

  await tag.fill('pbmc_1');
  await shows(
    expect((k) => k.tag.includes('pbmc_1')),
    'tag contains pbmc_1 (the _ is literal: pbmcX1 stays out)',
  );
  await tag.fill('10%');
  await shows(
    expect((k) => k.tag.includes('10%')),
    'tag contains 10% literally',
  );
  await tag.fill('');

  await status.selectOption('FAILED');
  await shows(
    expect((k) => k.status === 'FAILED'),
    'status FAILED',
  );
  await process.fill('ALIGN');
  await shows(
    expect((k) => k.status === 'FAILED' && k.process.includes('ALIGN')),
    'status and process together',
  );
  await process.fill('NOTHING_LIKE_THIS');
  await shows([], 'no match');
  await process.fill('');
  await status.selectOption('');
  await shows(
    expect(() => true),
    'every row again',
  );

  // The view survives a reload: it is the URL.
  await status.selectOption('COMPLETED');
  await shows(
    expect((k) => k.status === 'COMPLETED'),
    'status COMPLETED',
  );
  await page.reload();
  await shows(
    expect((k) => k.status === 'COMPLETED'),
    'status COMPLETED after reload',
  );
  t.equal(await page.getByLabel('Status').inputValue(), 'COMPLETED', 'the select shows the filter from the URL');
  t.same(pageErrors, [], 'no page errors');
});

/** The workflow's results layout for a run with `n` cells: qc/cells.arrow and the manifest naming it with its checksum. */
function writeResults(outdir: string, n: number) {
  mkdirSync(path.join(outdir, 'qc'), { recursive: true });
  const cells = Buffer.from(tableToIPC(syntheticCells(n, { barcodes: true, samples: 2 }), 'file'));
  writeFileSync(path.join(outdir, 'qc/cells.arrow'), cells);
  const manifest = {
    schema_version: '1.0',
    samples: [{ sample: 'S1' }, { sample: 'S2' }],
    outputs: [{ path: 'qc/cells.arrow', kind: 'cells', size: cells.byteLength, sha256: createHash('sha256').update(cells).digest('hex') }],
  };
  writeFileSync(path.join(outdir, 'manifest.json'), JSON.stringify(manifest));
}

t.test('the Cells page of a running run shows the embedding when the run completes, without a reload', async (t) => {
  const run = await newRun('cells');
  await page.goto(`${base}/runs/${run.id}/cells`);
  await page.getByTestId('cells-pending').waitFor();
  t.match(await page.getByTestId('cells-pending').textContent(), /when the run has completed \(running\)/);
  // A mark in this document: a reload would lose it.
  await page.evaluate(() => {
    (globalThis as { loadedOnce?: boolean }).loadedOnce = true;
  });

  const n = 3000;
  writeResults(run.outdir, n);
  // What the launcher does when Nextflow exits 0: final status, results ingest, change notification.
  await platform.runs.finish(run.id, 0, null);

  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) >= 1,
    null,
    {
      timeout: 30000,
    },
  );
  t.equal(await page.getByTestId('cell-count').textContent(), `${n.toLocaleString('en-US')} cells`);
  t.equal((await page.getByTestId('detail-status').textContent())?.trim(), 'COMPLETED', 'the run header followed too');
  t.equal(await page.getByTestId('cells-pending').count(), 0, 'the waiting note is gone');
  t.ok(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce), 'same document: no reload');
  t.same(pageErrors, [], 'no page errors');
});

t.test('the run page shows the provenance and the steps the data could not support, with their reasons', async (t) => {
  const run = await newRun('provenance');
  const reason = 'scrublet would keep 4 variable genes, fewer than the 10 its PCA needs';
  const manifest = {
    schema_version: '1.1',
    provenance: {
      nextflow: { version: '24.10.8', build: 5940 },
      pipeline: {
        name: 'scrna-platform',
        version: '0.1.0',
        commit: 'bbf9f777e9bf1e73e645a7856c9654d761db3da0',
        revision: 'main',
        dirty: false,
      },
      container_engine: 'docker',
      containers: { STARSOLO: 'scrna/starsolo:0.1.0' },
      software: { STARSOLO: { star: '2.7.10b' }, Workflow: { Nextflow: '24.10.8' } },
    },
    samples: [{ sample: 'pbmc1k', skipped: [{ step: 'doublets', action: 'skipped', reason }] }],
    integration: { skipped: [{ step: 'integration', action: 'skipped', reason: 'one batch (pbmc1k): Harmony has nothing to integrate' }] },
    outputs: [],
  };
  writeFileSync(path.join(run.outdir, 'manifest.json'), JSON.stringify(manifest));
  await platform.runs.finish(run.id, 0, null);
  await page.goto(`${base}/runs/${run.id}`);
  const panel = page.getByTestId('provenance');
  await panel.waitFor({ timeout: 30000 });
  t.match(await panel.textContent(), /bbf9f777e9bf/, 'the git commit');
  const software = await page.getByTestId('software-versions').locator('tbody tr').allTextContents();
  t.ok(
    software.some((r) => /STARSOLO/.test(r) && /star 2\.7\.10b/.test(r) && /scrna\/starsolo:0\.1\.0/.test(r)),
    'STARSOLO: its tool version and image',
  );
  const skipped = await page.getByTestId('skipped-steps').locator('tbody tr').allTextContents();
  t.equal(skipped.length, 2);
  t.ok(skipped[0]?.includes('pbmc1k') && skipped[0]?.includes(reason), 'the sample’s skipped doublets, with the reason');
  t.match(skipped[1], /integration.*all.*one batch/, 'the run-level skipped integration');
  t.same(pageErrors, [], 'no page errors');
});
