// nf-scrna benchmark (not part of the test suite). Writes bench/plugin.results.json.
//  1. Delivery rate: events/s the plugin sends at batch sizes 1, 10 and 100. The receiver holds every request until
//     the pipeline has finished, so the whole run's events queue up in the plugin; the clock runs from the release to
//     the arrival of the last event (HTTP on 127.0.0.1 to test/plugin/lib/receiver.ts, which parses every batch).
//  2. Added wall time: the fixture pipeline with ~TASKS trivial tasks, reported (batch 100) next to unreported,
//     interleaved REPEATS times (the machine is shared, so single runs are noisy; medians are reported too).
// Run: npx tsx bench/plugin.ts [tasks=2000] [drainTasks=400] [repeats=2]
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../test/helpers/paths.js';
import { runFixture, until } from '../test/plugin/lib/nf.js';
import { Receiver } from '../test/plugin/lib/receiver.js';

const TASKS = Number(process.argv[2] ?? 2000);
const DRAIN_TASKS = Number(process.argv[3] ?? 400);
const REPEATS = Number(process.argv[4] ?? 2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
// The fixture runs n SPLIT + n WORK + 1 GATHER tasks; each task is submitted, started and completed.
const nFor = (tasks: number) => Math.max(1, Math.round((tasks - 1) / 2));
const eventsFor = (n: number) => 2 + 3 * (2 * n + 1);

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'nf-scrna-bench-'));
}

async function deliveryRate(batchSize: number) {
  const dir = await tmp();
  const r = await Receiver.start();
  try {
    const n = nFor(DRAIN_TASKS);
    const release = r.hold();
    let releasedAt = 0;
    // GATHER publishes out/all.txt once every other task is done: then let the backlog go.
    const watcher = until(() => existsSync(path.join(dir, 'out/all.txt')), 30 * 60_000).then(() => {
      releasedAt = performance.now();
      release();
    });
    const run = await runFixture(dir, {
      params: { n },
      config: `scrna { batchSize = ${batchSize}; flushTimeout = '10 min'; readTimeout = '30 min' }`,
      env: { SCRNA_API_URL: r.url },
    });
    await watcher;
    if (run.code !== 0) throw new Error(run.out);
    const expected = eventsFor(n);
    await until(() => r.unique().length >= expected, 60_000);
    const last = r.lastArrival;
    const events = r.unique().length;
    return {
      batchSize,
      events,
      expected,
      requests: r.batches.length,
      drainMs: last - releasedAt,
      eventsPerSec: (events / (last - releasedAt)) * 1000,
    };
  } finally {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function wallTime(reported: boolean) {
  const dir = await tmp();
  const r = await Receiver.start();
  try {
    const n = nFor(TASKS);
    const run = await runFixture(dir, {
      params: { n },
      platform: reported,
      config: 'executor { queueSize = 100 }',
      env: reported ? { SCRNA_API_URL: r.url } : {},
    });
    if (run.code !== 0) throw new Error(run.out);
    return { tasks: run.trace.length, wallMs: Math.round(run.wallMs), events: r.unique().length, requests: r.batches.length };
  } finally {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: `${os.cpus().length} cores (shared), ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg()[0]?.toFixed(1)} at start`,
  receiver: '127.0.0.1 HTTP receiver (test/plugin/lib/receiver.ts): parses and records each batch, answers 202',
};
const rates = [];
for (const bs of [1, 10, 100]) {
  rates.push(await deliveryRate(bs));
  console.log(rates.at(-1));
}
results.delivery = rates;
const unreported = [];
const reported = [];
for (let i = 0; i < REPEATS; i++) {
  unreported.push(await wallTime(false));
  reported.push(await wallTime(true));
  console.log({ unreported: unreported.at(-1), reported: reported.at(-1) });
}
const medUnreported = median(unreported.map((r) => r.wallMs));
const medReported = median(reported.map((r) => r.wallMs));
results.wallTime = {
  unreported,
  reported,
  medianUnreportedMs: medUnreported,
  medianReportedMs: medReported,
  addedMs: medReported - medUnreported,
};
results.loadAtEnd = os.loadavg()[0];
await writeFile(path.join(repoRoot, 'bench/plugin.results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
