// Timeline benchmark: a 100,000-task run (imported from a trace through the real API on a fresh database) on the
// run's Timeline tab in headless Debian Chromium. Measures navigation -> first painted canvas (every task drawn),
// the timeline route's bytes and time, and hover -> tooltip; beside, in the same run, the same tab of a one-task run
// (the floor: SPA boot and round trips, nothing to draw) and, when BENCH_BASELINE_UI names a ui/build of the old
// renderer (an SVG row per task, first 1,000 tasks only; e.g. built at commit bbf9f77), that renderer on the same run.
// Writes bench/timeline.results.json. Run: bash bench/timeline.sh [tasks]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser } from '../test/e2e/browser.js';
import { type E2EPlatform, startPlatform } from '../test/e2e/platform.js';
import { repoRoot } from '../test/helpers/paths.js';

const N = Number(process.argv[2] ?? 100_000);
const GOALS = { firstPaintMs: 1000 };
const PROCESSES = 12;
const CONCURRENCY = 160;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const round = (v: number) => Math.round(v * 10) / 10;

/** A trace like a big scatter-gather run: 12 processes, 160 tasks at a time, 30 s to 10 min each, 1 % failed. */
function trace(n: number): string {
  const lines = ['task_id\thash\tname\tstatus\texit\tsubmit\tstart\tcomplete\trealtime'];
  const t0 = Date.UTC(2026, 10, 25, 8);
  const free = Array.from({ length: CONCURRENCY }, () => t0);
  const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 1; i <= n; i++) {
    const slot = i % CONCURRENCY;
    const submit = free[slot]!;
    const start = submit + Math.floor(rnd() * 20_000);
    const run = 30_000 + Math.floor(rnd() * 570_000);
    free[slot] = start + run;
    const status = i % 100 === 0 ? 'FAILED' : 'COMPLETED';
    const proc = `NFCORE_SCRNA:SCRNA:STEP_${String(Math.floor((i * PROCESSES) / (n + 1))).padStart(2, '0')}`;
    lines.push(
      [
        i,
        `${(i % 256).toString(16).padStart(2, '0')}/abc${i}`,
        `${proc} (s${i % 500})`,
        status,
        status === 'FAILED' ? 1 : 0,
        at(submit),
        at(start),
        at(start + run),
        `${run}ms`,
      ].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function importRun(p: E2EPlatform, body: string, name: string): Promise<string> {
  const r = await fetch(`${p.base}/api/v1/runs/trace?name=${name}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  if (r.status !== 201) throw new Error(`trace import: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { run: { id: string } }).run.id;
}

const browser = await launchBrowser({ width: 1440, height: 900 });
const { page } = browser;
// The time each timeline paint finished, from the canvas's data-drawn counter (the page carries no bench hooks).
type BenchWindow = typeof globalThis & { __draws: number[] };
await page.addInitScript(() => {
  const draws: number[] = [];
  (globalThis as BenchWindow).__draws = draws;
  new MutationObserver((records) => {
    for (const r of records) if ((r.target as Element).matches('[data-testid=gantt]')) draws.push(performance.now());
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-drawn'] });
});

/** Median of three navigations (after one warm-up) from navigation start to the first paint of `selector`. */
async function firstPaint(url: string, painted: () => Promise<number>) {
  await page.goto(url);
  await painted();
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(url);
    runs.push(await painted());
  }
  return { median: round(median(runs)), runs: runs.map(round) };
}
const canvasPaint = async () => {
  await page.waitForFunction(() => ((globalThis as Partial<BenchWindow>).__draws?.length ?? 0) > 0, null, { timeout: 120_000 });
  return page.evaluate(() => (globalThis as BenchWindow).__draws[0]!);
};
// The old page drew an SVG; its first frame after the bars are in the DOM.
const svgPaint = async () => {
  await page.waitForSelector('svg[data-testid=gantt] rect', { timeout: 120_000 });
  return page.evaluate(() => new Promise<number>((r) => requestAnimationFrame(() => r(performance.now()))));
};

const platforms: E2EPlatform[] = [];
try {
  const body = trace(N);
  const p = await startPlatform('bench_timeline');
  platforms.push(p);
  let t = performance.now();
  const big = await importRun(p, body, 'timeline-100k');
  const importMs = performance.now() - t;
  const small = await importRun(p, trace(1), 'timeline-1');

  t = performance.now();
  const res = await fetch(`${p.base}/api/v1/runs/${big}/timeline`);
  const bytes = (await res.arrayBuffer()).byteLength;
  const routeMs = performance.now() - t;

  const timeline = await firstPaint(`${p.base}/runs/${big}/timeline`, canvasPaint);
  const count = await page.getByTestId('timeline-count').textContent();
  // Hover: pointer move onto a drawn bar (found in the canvas's pixels) -> tooltip in the DOM and painted.
  const box = (await page.getByTestId('gantt').boundingBox())!;
  const targets = await page.evaluate(() => {
    const c = document.querySelector('[data-testid=gantt]') as HTMLCanvasElement;
    const dpr = c.width / c.clientWidth;
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, Math.min(c.height, Math.round(800 * dpr))).data;
    const found: [number, number][] = [];
    for (let y = 6; y < 800 && found.length < 5; y += 97)
      for (let x = 260; x < c.clientWidth; x += 53) {
        const k = (Math.round(y * dpr) * c.width + Math.round(x * dpr)) * 4;
        if (px[k + 3] === 255 && px[k]! < 200) {
          found.push([x, y]);
          break;
        }
      }
    return found;
  });
  const hover: number[] = [];
  for (const [x, y] of targets) {
    await page.mouse.move(box.x + 5, box.y + 5);
    const started = await page.evaluate(() => performance.now());
    await page.mouse.move(box.x + x, box.y + y);
    await page.getByTestId('timeline-tip').waitFor({ timeout: 10_000 });
    hover.push(await page.evaluate((s) => new Promise<number>((r) => requestAnimationFrame(() => r(performance.now() - s))), started));
  }
  const floor = await firstPaint(`${p.base}/runs/${small}/timeline`, canvasPaint);

  let oldRenderer: unknown = 'not measured: set BENCH_BASELINE_UI to a ui/build of the old renderer';
  const oldUi = process.env.BENCH_BASELINE_UI;
  if (oldUi) {
    const q = await startPlatform('bench_timeline_old', { uiBuildDir: path.resolve(oldUi) });
    platforms.push(q);
    const id = await importRun(q, body, 'timeline-100k');
    const paint = await firstPaint(`${q.base}/runs/${id}/timeline`, svgPaint);
    oldRenderer = { ui: oldUi, tasksDrawn: await page.locator('svg[data-testid=gantt] > g').count(), navigationToFirstPaintMs: paint };
  }

  const result = {
    date: new Date().toISOString(),
    tasks: N,
    machine: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0]!) },
    browser: 'Debian chromium, headless, no GPU (2D canvas)',
    server: 'the real API on a fresh PostgreSQL database; the run imported from a trace (POST /runs/trace)',
    importMs: round(importMs),
    route: { path: 'GET /runs/:id/timeline (Arrow IPC)', bytes, bytesPerTask: round(bytes / N), fetchMs: round(routeMs) },
    timeline: {
      shown: count,
      navigationToFirstPaintMs: timeline,
      hoverToTooltipMs: { median: round(median(hover)), runs: hover.map(round) },
    },
    baselines: { oneTaskRun: { navigationToFirstPaintMs: floor }, oldRenderer },
    goals: GOALS,
    meets: { firstPaint: timeline.median <= GOALS.firstPaintMs },
  };
  writeFileSync(path.join(repoRoot, 'bench/timeline.results.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  for (const p of platforms) await p.close();
}
