// Component-level browser tests of the built UI against a fixture server (tiny static server + a synthetic
// Arrow cell table): the Cells view really renders with WebGL, recolours, filters, lassos; the launch form
// validates against the workflow's real schema files. The full path through the real API is in launch-run.test.ts.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { artifactsDir } from '../helpers/paths.js';
import { colourSignature, launchBrowser, nonBackgroundShare } from './browser.js';
import { startFixtureServer, syntheticCells, uiBuild } from './fixtures.js';

const N = 20000;
const shots = path.join(artifactsDir, 'e2e');
mkdirSync(shots, { recursive: true });

t.ok(existsSync(path.join(uiBuild, 'index.html')), 'ui/build exists (scripts/build.sh ran in setup)');

const clustering = (resolution: number, n: number) => ({ resolution, key: `leiden_r${resolution}`, n_clusters: n, metrics: {} });
const server = await startFixtureServer({
  id: 'fx1',
  cells: syntheticCells(N, { barcodes: true, resolutions: true }),
  integration: { leiden_resolution: 1, clusterings: [clustering(0.5, 6), clustering(1, 12)], metrics: {} },
});
t.teardown(() => server.close());
const browser = await launchBrowser({ width: 1366, height: 768 });
t.teardown(() => browser.close());
const { page } = browser;
const consoleErrors: string[] = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));

async function draws(): Promise<number> {
  return Number((await page.locator('[data-testid=scatter]').locator('..').getAttribute('data-drawn')) ?? 0);
}
async function canvasShot(name: string): Promise<Buffer> {
  const png = await page.locator('[data-testid=scatter]').screenshot();
  writeFileSync(path.join(shots, `${name}.png`), png);
  return png;
}

t.test('cells view renders the scatter from Arrow and recolours', async (t) => {
  await page.goto(`${server.url}/runs/fx1/cells`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) >= 1, null, {
    timeout: 30000,
  });
  t.equal(await page.getByTestId('cell-count').textContent(), '20,000 cells');
  t.equal(await page.getByTestId('legend').locator('li').count(), 12, 'one legend entry per leiden cluster');
  const arrowReq = server.sent.find((s) => s.path.endsWith('/cells'));
  t.ok(arrowReq && arrowReq.bytes / N < 13, `cells sent as compact Arrow (${((arrowReq?.bytes ?? 0) / N).toFixed(2)} B/cell)`);

  const byCluster = await canvasShot('cells-leiden');
  const share = await nonBackgroundShare(page, byCluster);
  t.ok(share > 0.02, `scatter drew points (${(share * 100).toFixed(1)}% non-background pixels)`);
  const sigCluster = await colourSignature(page, byCluster);
  t.ok(Object.keys(sigCluster).length >= 8, 'many distinct colours when coloured by cluster');

  const before = await draws();
  await page.getByTestId('colour-by').selectOption('sample');
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) > n, before);
  t.same(
    await page
      .getByTestId('legend')
      .locator('li button')
      .allInnerTexts()
      .then((l) => l.map((s) => s.split('\n')[0]?.trim())),
    ['S1', 'S2', 'S3'],
  );
  const bySample = await canvasShot('cells-sample');
  t.not(JSON.stringify(await colourSignature(page, bySample)), JSON.stringify(sigCluster), 'pixels changed after recolouring');
  t.match(page.url(), /colour=sample/, 'colour choice is kept in the URL');

  // Hiding two of three samples removes roughly two thirds of the drawn pixels.
  const d2 = await draws();
  await page.getByTestId('legend').getByRole('button', { name: /^S1/ }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) > n, d2);
  const d3 = await draws();
  await page.getByTestId('legend').getByRole('button', { name: /^S2/ }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) > n, d3);
  const filtered = await nonBackgroundShare(page, await canvasShot('cells-sample-S3-only'));
  t.ok(filtered < share * 0.8, `legend toggles hide points (${(filtered * 100).toFixed(1)}% vs ${(share * 100).toFixed(1)}%)`);
  t.equal(await page.getByTestId('legend').getByRole('button', { name: /^S1/ }).getAttribute('aria-pressed'), 'false');
  await page.getByRole('button', { name: 'Show all' }).click();

  // Continuous colouring shows a gradient legend.
  await page.getByTestId('colour-by').selectOption('pct_counts_mt');
  await page.locator('.grad').waitFor();
  await canvasShot('cells-pct-mt');
  t.same(consoleErrors, [], 'no page errors');
});

t.test('the colour-by list offers every Leiden resolution of the run, and a link can open one', async (t) => {
  await page.goto(`${server.url}/runs/fx1/cells`);
  await page.getByTestId('legend').waitFor();
  const options = await page
    .getByTestId('colour-by')
    .locator('option')
    .evaluateAll((o) => o.map((e) => (e as HTMLOptionElement).value));
  t.same(options.slice(0, 3), ['leiden', 'leiden_r0.5', 'leiden_r1'], 'default clustering first, then each resolution');
  await page.getByTestId('colour-by').selectOption('leiden_r0.5');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=legend] li').length === 6);
  t.match(page.url(), /colour=leiden_r0\.5/);
  await page.goto(`${server.url}/runs/fx1/cells?colour=leiden_r0.5`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=legend] li').length === 6);
  t.equal(await page.getByTestId('colour-by').inputValue(), 'leiden_r0.5', 'the linked resolution is loaded first');
  t.same(consoleErrors, [], 'no page errors');
});

t.test('the WebGL renderer draws the same cells', async (t) => {
  // Headless Chromium has no GPU, so the view picks its CPU renderer by itself; force WebGL (SwiftShader) here.
  await page.goto(`${server.url}/runs/fx1/cells?renderer=webgl`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) >= 1, null, {
    timeout: 30000,
  });
  t.equal(await page.getByTestId('scatter-host').getAttribute('data-renderer'), 'webgl');
  const share = await nonBackgroundShare(page, await canvasShot('cells-leiden-webgl'));
  t.ok(share > 0.02, `WebGL drew points (${(share * 100).toFixed(1)}% non-background pixels)`);
  await page.goto(`${server.url}/runs/fx1/cells`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=scatter]')?.parentElement?.dataset.drawn ?? 0) >= 1);
  t.match(await page.getByTestId('scatter-host').getAttribute('data-renderer'), /^(webgl|cpu)$/, 'automatic renderer choice');
});

t.test('lasso selects cells and summarises them', async (t) => {
  await page.getByTestId('colour-by').selectOption('leiden');
  await page.getByTestId('lasso-toggle').click();
  const box = (await page.locator('[data-testid=scatter]').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  // A wedge from the empty centre of the ring of clusters: starting and ending off any point keeps the final
  // mouse-up from counting as a click on a single point.
  const r = Math.min(box.width, box.height) * 0.45;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  for (let a = 0; a <= (2 * Math.PI) / 3 + 0.01; a += Math.PI / 18) {
    await page.mouse.move(cx + r * Math.sin(a), cy - r * Math.cos(a), { steps: 2 });
  }
  await page.mouse.move(cx, cy, { steps: 4 });
  await page.mouse.up();
  const count = page.getByTestId('selection-count');
  await count.waitFor({ timeout: 10000 });
  const n = Number((await count.textContent())?.replaceAll(',', ''));
  t.ok(n > 100 && n < N, `lasso selected ${n} of ${N} cells`);
  t.ok(await page.getByRole('heading', { name: 'leiden' }).isVisible(), 'selection summary breaks down by cluster');
  await page.screenshot({ path: path.join(shots, 'cells-lasso-laptop.png') });
  await page.getByRole('button', { name: 'Clear' }).click();
  await count.waitFor({ state: 'detached' });
});

t.test('hover shows the cell under the cursor', async (t) => {
  await page.getByTestId('lasso-toggle').click();
  const box = (await page.locator('[data-testid=scatter]').boundingBox())!;
  // Sweep a line through the dense ring of clusters until a point is under the cursor.
  let shown = false;
  for (let i = 0; i < 80 && !shown; i++) {
    await page.mouse.move(box.x + box.width * (0.2 + (0.6 * i) / 80), box.y + box.height * 0.5);
    shown = await page
      .getByTestId('tooltip')
      .waitFor({ timeout: 150 })
      .then(() => true)
      .catch(() => false);
  }
  t.ok(shown, 'tooltip appears over a point');
  if (shown) t.match(await page.getByTestId('tooltip').textContent(), /leiden: \d+/);
});

t.test('wide screen layout and keyboard reachability', async (t) => {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.waitForTimeout(300);
  const png = await page.screenshot({ path: path.join(shots, 'cells-wide.png') });
  t.ok(png.byteLength > 10000);
  const box = (await page.locator('[data-testid=scatter]').boundingBox())!;
  t.ok(box.width > 1300, `scatter uses the wide screen (${box.width}px)`);
  // Tab from the colour selector reaches the legend buttons.
  await page.getByTestId('colour-by').focus();
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => !!document.activeElement?.closest('[data-testid=legend]'));
  }
  t.ok(reached, 'legend reachable by keyboard');
  await page.keyboard.press('Enter');
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-pressed')), 'false', 'Enter toggles the focused entry');
  await page.setViewportSize({ width: 1366, height: 768 });
});

t.test('errors are shown, not blank pages', async (t) => {
  await page.goto(`${server.url}/runs/nope/cells`);
  const alert = page.getByRole('alert').first();
  await alert.waitFor();
  t.match(await alert.textContent(), /fixture server has no|404/);
});

t.test('launch form validates against the workflow schemas as you type', async (t) => {
  await page.goto(`${server.url}/launch`);
  const expected = page.locator('#param-expected_cells');
  await expected.waitFor();
  t.equal(await expected.inputValue(), '3000', 'defaults from the schema');
  t.ok(await page.getByRole('heading', { name: 'Cell QC options' }).isVisible(), 'groups from the schema');
  await expected.fill('12.5x');
  const err = page.locator('#param-expected_cells-error');
  await err.waitFor();
  t.match(await err.textContent(), /expected_cells must be integer/);
  t.equal(await expected.getAttribute('aria-invalid'), 'true');
  t.ok(await page.getByTestId('review-button').isDisabled(), 'cannot go on with an invalid field');
  await expected.fill('5000');
  await err.waitFor({ state: 'detached' });

  await page.getByTestId('profile-test').uncheck();
  await page.getByRole('button', { name: 'Add row' }).click();
  await page.getByLabel('row 1 sample').fill('bad sample!');
  await page.getByLabel('row 1 fastqs').fill('/data/fastqs');
  const rowErr = page.getByTestId('row-error').first();
  await rowErr.waitFor();
  t.match(await rowErr.textContent(), /Row 1, sample: must match/);
  t.equal(await page.getByLabel('row 1 sample').getAttribute('aria-invalid'), 'true', 'the bad cell is marked');
  await page.getByLabel('row 1 sample').fill('pbmc_1');
  await rowErr.waitFor({ state: 'detached' });
  await page.getByLabel('row 1 fastqs').fill('');
  await page.getByTestId('row-error').first().waitFor();
  t.match(await page.getByTestId('row-error').first().textContent(), /give exactly one of: fastqs \| fastq_1 \+ fastq_2/);
  await page.screenshot({ path: path.join(shots, 'launch-validation.png'), fullPage: true });
});
