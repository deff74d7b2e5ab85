// UI benchmark: 1,000,000 synthetic cells in the Cells view, in headless Debian Chromium.
// Measures bytes per cell on the wire (Arrow vs the same columns as JSON), navigation -> first rendered frame,
// recolour time and frame time while panning, for the renderer the view picks by itself (the CPU renderer
// here: no GPU) and for forced WebGL (software-emulated by SwiftShader here).
// Writes bench/ui.results.json. Run: npx tsx bench/ui.ts [cells]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { columnsToArrowStream } from '../api/src/http/arrow.js';
import { launchBrowser } from '../test/e2e/browser.js';
import { startFixtureServer, syntheticCells } from '../test/e2e/fixtures.js';
import { repoRoot } from '../test/helpers/paths.js';

const N = Number(process.argv[2] ?? 1_000_000);
const GOALS = { bytesPerCell: 13, firstFrameMs: 2000, recolourMs: 400 };
const COLUMNS = 'umap_x,umap_y,leiden';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const round = (v: number) => Math.round(v * 10) / 10;

const cells = syntheticCells(N);
const server = await startFixtureServer({ id: 'bench', cells });
const browser = await launchBrowser({ width: 1440, height: 900 });
const { page } = browser;
// The page carries no benchmark hooks: an init script records when the scatter reports a draw (its host's
// data-drawn counter), and fetch times come from the browser's Resource Timing entries.
interface Bench {
  draws: number[];
}
type BenchWindow = typeof globalThis & { __bench: Bench };
await page.addInitScript(() => {
  const bench: Bench = { draws: [] };
  (globalThis as BenchWindow).__bench = bench;
  new MutationObserver((records) => {
    for (const r of records) if ((r.target as Element).matches('[data-testid=scatter-host]')) bench.draws.push(performance.now());
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-drawn'] });
});
const perf = () =>
  page.evaluate(() => {
    const { draws } = (globalThis as BenchWindow).__bench;
    const cells = performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.endsWith('/cells'));
    return { draws: draws.length, firstFrameAt: draws[0] ?? 0, fetchMs: cells.reduce((s, e) => s + e.duration, 0) };
  });
const waitDraws = (n: number) =>
  page.waitForFunction((k) => ((globalThis as Partial<BenchWindow>).__bench?.draws.length ?? 0) >= k, n, { timeout: 180000 });

async function measure(renderer: 'auto' | 'webgl') {
  const url = `${server.url}/runs/bench/cells?colour=leiden${renderer === 'auto' ? '' : `&renderer=${renderer}`}`;
  // One warm-up load (bundle compiled and cached, as for a returning user), then three measured navigations.
  await page.goto(url);
  await waitDraws(1);
  const firstFrames: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(url);
    await waitDraws(1);
    firstFrames.push((await perf()).firstFrameAt);
  }
  const used = await page.getByTestId('scatter-host').getAttribute('data-renderer');
  // From the select's change event to the draw it causes, timed inside the page.
  const recolour = (col: string) =>
    page.evaluate(async (c) => {
      const bench = (globalThis as BenchWindow).__bench;
      const before = bench.draws.length;
      const select = document.querySelector<HTMLSelectElement>('[data-testid=colour-by]')!;
      const t0 = performance.now();
      select.value = c;
      select.dispatchEvent(new Event('change', { bubbles: true }));
      const deadline = t0 + 180000;
      while (bench.draws.length <= before && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      if (bench.draws.length <= before) throw new Error(`no draw after colouring by ${c}`);
      return Math.round((bench.draws[before]! - t0) * 10) / 10;
    }, col);
  const recolourMs = {
    fetchColumnAndRedraw: await recolour('sample'),
    loadedCategorical: await recolour('leiden'),
    continuousFetched: await recolour('n_genes'),
    loadedAgain: await recolour('sample'),
  };
  // Pan: pointer events dispatched once per animation frame on the plot's input surface, as a dragging hand
  // does; each frame is timed from one frame to the next, so drawing and compositing are included.
  const frames: number[] = await page.evaluate(`(async () => {
    const el = document.querySelector('[data-testid=scatter-host] .input');
    const r = el.getBoundingClientRect();
    const raf = () => new Promise((res) => requestAnimationFrame(res));
    const ev = (type, x, y) => el.dispatchEvent(new PointerEvent(type, { clientX: r.left + x, clientY: r.top + y, button: 0, buttons: 1, pointerId: 1, bubbles: true }));
    ev('pointerdown', r.width * 0.3, r.height * 0.5);
    await raf();
    const out = [];
    let last = performance.now();
    for (let i = 0; i < 40; i++) {
      ev('pointermove', r.width * (0.3 + 0.4 * i / 40), r.height * (0.5 + 0.1 * Math.sin(i / 6)));
      await raf();
      const now = performance.now();
      out.push(now - last);
      last = now;
    }
    ev('pointerup', r.width * 0.7, r.height * 0.5);
    return out;
  })()`);
  frames.sort((a, b) => a - b);
  return {
    renderer: used,
    navigationToFirstFrameMs: { median: round(median(firstFrames)), runs: firstFrames.map(round) },
    recolourMs,
    panFrameMs: { frames: frames.length, median: round(median(frames)), p95: round(frames[Math.floor(frames.length * 0.95)]!) },
  };
}

try {
  const auto = await measure('auto');
  const arrowFetchMs = round((await perf()).fetchMs);
  const webgl = await measure('webgl');

  // The same three columns as JSON rows, fetched and turned into typed arrays in the page, for comparison.
  const json = await page.evaluate(`(async () => {
    const t = performance.now();
    const text = await (await fetch('/api/v1/runs/bench/cells?columns=${COLUMNS}&format=json')).text();
    const tf = performance.now();
    const rows = JSON.parse(text);
    const x = new Float32Array(rows.length), y = new Float32Array(rows.length), c = new Uint32Array(rows.length);
    const codes = new Map();
    for (let i = 0; i < rows.length; i++) {
      x[i] = rows[i].umap_x; y[i] = rows[i].umap_y;
      if (!codes.has(rows[i].leiden)) codes.set(rows[i].leiden, codes.size);
      c[i] = codes.get(rows[i].leiden);
    }
    return { bytes: text.length, fetchMs: tf - t, parseMs: performance.now() - tf };
  })()`);
  const j = json as { bytes: number; fetchMs: number; parseMs: number };
  const arrowBody = Buffer.from(await (await fetch(`${server.url}/api/v1/runs/bench/cells?columns=${COLUMNS}`)).arrayBuffer());
  const jsonBody = Buffer.from(await (await fetch(`${server.url}/api/v1/runs/bench/cells?columns=${COLUMNS}&format=json`)).arrayBuffer());

  // What the API's own encoder (api/src/http/arrow.ts) puts on the wire for the same three columns.
  const apiBody = columnsToArrowStream({
    umap_x: Array.from(cells.getChild('umap_x')!.toArray() as Float32Array),
    umap_y: Array.from(cells.getChild('umap_y')!.toArray() as Float32Array),
    leiden: Array.from({ length: N }, (_, i) => cells.getChild('leiden')!.get(i) as string),
  });

  const result = {
    date: new Date().toISOString(),
    cells: N,
    machine: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0]!) },
    browser: 'Debian chromium, headless, no GPU (WebGL = SwiftShader)',
    server: `fixture server (test/e2e/fixtures.ts) sending ${COLUMNS}: float32, float32, dictionary<int8> as the API contract does`,
    wire: {
      apiEncoder: { bytes: apiBody.byteLength, bytesPerCell: round(apiBody.byteLength / N) },
      arrow: {
        bytes: arrowBody.byteLength,
        bytesPerCell: round(arrowBody.byteLength / N),
        gzipBytesPerCell: round(gzipSync(arrowBody).byteLength / N),
        fetchMs: arrowFetchMs,
      },
      json: {
        bytes: j.bytes,
        bytesPerCell: round(j.bytes / N),
        gzipBytesPerCell: round(gzipSync(jsonBody).byteLength / N),
        fetchMs: round(j.fetchMs),
        parseToArraysMs: round(j.parseMs),
      },
    },
    views: [auto, webgl],
    goals: GOALS,
    meets: {
      bytesPerCell: arrowBody.byteLength / N <= GOALS.bytesPerCell,
      firstFrame: auto.navigationToFirstFrameMs.median <= GOALS.firstFrameMs,
      recolour: Math.max(auto.recolourMs.loadedCategorical, auto.recolourMs.loadedAgain) < GOALS.recolourMs,
    },
  };
  writeFileSync(path.join(repoRoot, 'bench/ui.results.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.close();
}
