// The Outputs tab in Debian Chromium: a run completed through the platform's own run-finished path (results ingested
// from a small manifest, no Nextflow), its files grouped by step and sample, and a download checked byte for byte.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { sha256, writeOutdir } from '../helpers/outputs.js';
import { repoRoot } from '../helpers/paths.js';
import { readZip } from '../helpers/zip.js';
import { browserSession } from './platform.js';

// The fixture workflows folder has no manifest schema, so the API checks results against its minimal one.
const { base, platform, dataDir, page, pageErrors } = await browserSession(t, 'outputs', {
  workflowsDir: path.join(repoRoot, 'test/api/fixtures/workflows'),
});

t.test('Outputs tab: grouped files, sizes, checksums, a verified download', async (t) => {
  const id = crypto.randomUUID();
  const outdir = path.join(dataDir, 'outputs-run', 'results');
  await platform.repos.runs.create({ id, name: 'outputs', status: 'RUNNING', source: 'platform', outdir });
  const written = await writeOutdir(outdir);
  // What the launcher does when Nextflow exits 0: final status, results ingest, change notification.
  await platform.runs.finish(id, 0, null);

  await page.goto(`${base}/runs/${id}/outputs`);
  await page.getByTestId('output-row').first().waitFor({ timeout: 15000 });
  t.same(
    await page.getByTestId('output-step').evaluateAll((els) => els.map((e) => e.getAttribute('data-step'))),
    ['count', 'integrate', 'qc'],
    'one section per step',
  );
  t.same(
    await page.getByTestId('output-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-path'))),
    written.map((o) => o.path),
    'every output listed',
  );
  const count = page.locator('[data-testid=output-step][data-step=count]');
  t.same(await count.locator('h3').allTextContents(), ['pbmc1', 'pbmc2'], 'count step grouped by sample');
  const big = written.find((o) => o.path.endsWith('.h5ad'))!;
  const row = page.locator(`[data-testid=output-row][data-path="${big.path}"]`);
  t.match(await row.textContent(), /293 KB/, 'its size');
  t.equal(await row.locator('[title]').getAttribute('title'), big.sha256, 'its checksum');

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: `Download ${big.path}` }).click()]);
  t.equal(download.suggestedFilename(), 'integrated.h5ad');
  const file = await download.path();
  const bytes = await readFile(file);
  t.equal(bytes.length, big.size, 'downloaded size');
  t.equal(sha256(bytes), big.sha256, 'downloaded checksum');

  const [all] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download all (.zip)' }).click()]);
  t.match(all.suggestedFilename(), /^outputs-[0-9a-f]{8}-outputs\.zip$/);
  const archive = await readZip((await all.path())!);
  t.equal(archive.bad, null, 'the archive passes its CRC checks');
  t.same(
    archive.entries,
    written.map((o) => ({ path: o.path, size: o.size, sha256: o.sha256 })),
    'download all: every file with its checksum',
  );

  await page.goto(`${base}/runs/${id}/qc`);
  await page.getByTestId('output-links').waitFor({ timeout: 15000 });
  t.match(await page.getByTestId('output-links').textContent(), /count\/pbmc1\/metrics_summary\.csv/, 'QC links its metrics file');
  t.same(pageErrors, [], 'no page errors');
});
