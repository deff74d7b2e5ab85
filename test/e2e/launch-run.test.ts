// End to end through the real platform: the API (real Postgres, local launcher, real Nextflow with the workflow's
// test profile) serving the built UI, driven in Debian Chromium. Launch from the form, watch the run reach
// COMPLETED, then read its QC and explore its cells. Screenshots go to test-artifacts/e2e/.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { artifactsDir } from '../helpers/paths.js';
import { nonBackgroundShare } from './browser.js';
import { markerGenesLightUp } from './marker-genes.js';
import { browserSession } from './platform.js';

// Nextflow + STARsolo + Scanpy on 2 shared cores: the test profile takes minutes.
t.setTimeout(30 * 60 * 1000);
const RUN_TIMEOUT = 25 * 60 * 1000;
const shots = path.join(artifactsDir, 'e2e');
mkdirSync(shots, { recursive: true });

const { base, page, pageErrors } = await browserSession(t, 'e2e');
const name = `e2e-${Date.now().toString(36)}`;
let runId = '';

t.test('the API serves the UI and the launch form is built from the schema', async (t) => {
  await page.goto(`${base}/launch`);
  await page.locator('#param-expected_cells').waitFor();
  t.ok(await page.getByRole('heading', { name: 'Counting options' }).isVisible());
  t.ok(await page.getByTestId('profile-test').isChecked(), 'test profile chosen by default');
});

t.test('a schema violation shows at the field before submission', async (t) => {
  const f = page.locator('#param-n_pcs');
  await f.fill('1');
  const err = page.locator('#param-n_pcs-error');
  await err.waitFor();
  t.match(await err.textContent(), /n_pcs must be >= 2/);
  t.ok(await page.getByTestId('review-button').isDisabled());
  await f.fill('15');
  await err.waitFor({ state: 'detached' });
});

t.test('a bad samplesheet row shows at the row before submission', async (t) => {
  await page.getByRole('button', { name: 'Add row' }).click();
  await page.getByLabel('row 1 sample').fill('SYN 1');
  await page.getByLabel('row 1 fastq_1').fill('reads_R1.fastq.gz');
  const err = page.getByTestId('row-error');
  await err.first().waitFor();
  const texts = await err.allTextContents();
  t.ok(
    texts.some((x) => /Row 1, sample: must match/.test(x)),
    texts.join(' | '),
  );
  t.ok(
    texts.some((x) => /Row 1, fastq_2: /.test(x)),
    'missing mate of fastq_1 is named',
  );
  await page.screenshot({ path: path.join(shots, 'launch-errors.png'), fullPage: true });
  // The test profile brings its own data: drop the row.
  await page.getByRole('button', { name: 'Remove row 1' }).click();
  await err.first().waitFor({ state: 'detached' });
});

t.test('review shows the exact command, then launch', async (t) => {
  await page.getByTestId('run-name').fill(name);
  await page.getByTestId('review-button').click();
  const cmd = page.getByTestId('command');
  await cmd.waitFor({ timeout: 30000 });
  const command = (await cmd.textContent()) ?? '';
  t.match(command, /^nextflow run \S+ -profile test[ ,]/);
  t.match(command, /-params-file \S+params\.json/);
  await page.screenshot({ path: path.join(shots, 'launch-review.png'), fullPage: true });
  await page.getByTestId('launch').click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  runId = page.url().split('/').pop()!;
  t.ok(runId);
});

t.test('the run is listed and reaches COMPLETED live', async (t) => {
  const status = page.getByTestId('detail-status');
  await status.waitFor();
  t.match(await status.textContent(), /QUEUED|SUBMITTED|RUNNING|COMPLETED/);
  // Watch the detail page update without reloads; grab one screenshot while it runs.
  const started = Date.now();
  const deadline = started + RUN_TIMEOUT;
  let shotWhileRunning = false;
  let s = '';
  while (Date.now() < deadline) {
    s = (await status.textContent())?.trim() ?? '';
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(s)) break;
    if (!shotWhileRunning && Date.now() - started > 45000) {
      await page.screenshot({ path: path.join(shots, 'run-running.png'), fullPage: true });
      shotWhileRunning = true;
    }
    await page.waitForTimeout(2000);
  }
  await page.screenshot({ path: path.join(shots, 'run-finished.png'), fullPage: true });
  t.equal(s, 'COMPLETED', 'run completed (see run-finished.png and the Nextflow log panel)');
  t.ok((await page.getByTestId('processes').locator('tbody tr').count()) >= 3, 'progress by process');
  await page.waitForFunction(() => (document.querySelector('[data-testid=log-lines]')?.textContent ?? '').length > 100, null, {
    timeout: 30000,
  });
  t.match(await page.getByTestId('log-lines').textContent(), /nextflow/i, 'the Nextflow log is shown');

  await page.goto(`${base}/`);
  const row = page.locator(`tr[data-run-id="${runId}"]`);
  await row.waitFor();
  t.equal((await row.getByTestId('run-status').textContent())?.trim(), 'COMPLETED');
  await row.getByText(/^\d+ \/ \d+/).waitFor();
  t.match(await row.textContent(), /(\d+) \/ \1/, 'tasks done / total');
  await page.screenshot({ path: path.join(shots, 'runs-list.png') });
});

t.test('tasks, timeline and a task log', async (t) => {
  await page.goto(`${base}/runs/${runId}/tasks`);
  const rows = page.getByTestId('tasks-table').locator('tbody tr');
  await rows.first().waitFor();
  t.ok((await rows.count()) >= 3, 'task rows');
  await rows
    .first()
    .getByRole('button', { name: /Show log/ })
    .click();
  const status = page.getByTestId('log-status');
  await page.waitForFunction(
    () => /complete|unavailable/.test(document.querySelector('[data-testid=log-status]')?.textContent ?? ''),
    null,
    {
      timeout: 30000,
    },
  );
  t.match(await status.textContent(), /complete|unavailable/);
  await page.goto(`${base}/runs/${runId}/timeline`);
  await page.getByTestId('gantt').waitFor();
  const drawn = /([\d,]+) of ([\d,]+) tasks/.exec((await page.getByTestId('timeline-count').textContent()) ?? '');
  t.ok(drawn && drawn[1] === drawn[2] && Number(drawn[1]!.replace(/,/g, '')) >= 3, 'every task drawn on the timeline');
  await page.screenshot({ path: path.join(shots, 'run-timeline.png'), fullPage: true });
});

t.test('QC: one card per sample with CellRanger metrics and thresholds', async (t) => {
  await page.goto(`${base}/runs/${runId}/qc`);
  const cards = page.getByTestId('sample-card');
  await cards.first().waitFor({ timeout: 30000 });
  t.equal(await cards.count(), 2, 'two samples in the test profile');
  t.equal((await page.getByTestId('sample-count').textContent())?.trim(), '2 samples');
  for (const metric of ['Estimated Number of Cells', 'Median Genes per Cell', 'Valid Barcodes', 'Sequencing Saturation']) {
    t.equal(await cards.first().locator(`[data-metric="${metric}"]`).count(), 1, `card shows ${metric}`);
  }
  t.ok(await cards.first().getByTestId('thresholds').isVisible(), 'thresholds used are shown');
  await page.getByTestId('violins').waitFor({ timeout: 30000 });
  await page.getByTestId('knee-plot').waitFor({ timeout: 30000 });
  await page.getByTestId('integration').waitFor({ timeout: 30000 });
  await page.screenshot({ path: path.join(shots, 'qc.png'), fullPage: true });
});

t.test('Cells: the embedding is drawn from the Arrow stream', async (t) => {
  await page.goto(`${base}/runs/${runId}/cells`);
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) >= 1,
    null,
    {
      timeout: 60000,
    },
  );
  const n = Number((await page.getByTestId('cell-count').textContent())?.replace(/\D/g, ''));
  t.ok(n >= 100, `${n} cells`);
  t.ok((await page.getByTestId('legend').locator('li').count()) >= 2, 'clusters in the legend');
  const png = await page.getByTestId('scatter').screenshot();
  const share = await nonBackgroundShare(page, png);
  t.ok(share > 0.002, `scatter drew points (${(share * 100).toFixed(2)}% non-background pixels)`);
  await page.getByTestId('colour-by').selectOption('sample');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) >= 2);
  t.same(
    await page
      .getByTestId('legend')
      .locator('li button')
      .allInnerTexts()
      .then((l) => l.map((s) => s.split('\n')[0]?.trim())),
    ['SYN1', 'SYN2'],
  );
  await page.screenshot({ path: path.join(shots, 'cells.png') });
});

t.test("Cells: a cell type's marker gene lights up that type's cells; the marker table names each type's markers", async (t) => {
  await markerGenesLightUp(t, page, base, runId, shots);
  t.same(pageErrors, [], 'no page errors');
});
