// nf-scrna's wire behaviour against a small receiver of our own on 127.0.0.1, with real Nextflow: what it sends,
// how it batches, how it survives the receiver going away (spool + ordered replay), how it stops waiting at the end
// of the run (flush deadline, spool left for `scrna events replay`), and that it costs the pipeline no time.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type FixtureRun, runFixture } from './lib/nf.js';
import { type PluginEvent, Receiver } from './lib/receiver.js';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function launchDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-scrna-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function receiver(t: Test): Promise<Receiver> {
  const r = await Receiver.start();
  t.teardown(() => r.close());
  return r;
}

const spoolOf = (dir: string) => path.join(dir, '.scrna-events.jsonl');

async function readSpool(dir: string): Promise<PluginEvent[]> {
  const text = await readFile(spoolOf(dir), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as PluginEvent);
}

/**
 * Every trace row has its submitted/started/completed events, the completion last, agreeing with the row's final state.
 * (Nextflow's submitter and monitor threads race, so a task's `process_started` may precede its `process_submitted`.)
 */
function assertTasksMatchTrace(t: Test, run: FixtureRun, events: PluginEvent[]) {
  const byTask = new Map<number, PluginEvent[]>();
  for (const e of events) {
    if (e.trace?.task_id === undefined) continue;
    byTask.set(e.trace.task_id, [...(byTask.get(e.trace.task_id) ?? []), e]);
  }
  t.same(
    [...byTask.keys()].sort((a, b) => a - b),
    run.trace.map((r) => Number(r.task_id)).sort((a, b) => a - b),
    'same tasks as the trace',
  );
  for (const row of run.trace) {
    const seen = (byTask.get(Number(row.task_id)) ?? []).sort((a, b) => a.seq - b.seq);
    t.same(
      seen.map((e) => `${e.event}:${e.trace?.status}`).sort(),
      [`process_completed:${row.status}`, 'process_started:RUNNING', 'process_submitted:SUBMITTED'],
      `${row.name}: submitted, running, ${row.status}`,
    );
    t.equal(seen.at(-1)?.event, 'process_completed', `${row.name}: completion is its last event`);
    const last = seen.at(-1)?.trace;
    t.match(last, { hash: row.hash, name: row.name, process: row.process, exit: Number(row.exit) }, `${row.name} agrees with the trace`);
  }
}

t.test('reports every task with seq, ISO timestamps, platform run id and bearer token', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  const run = await runFixture(dir, {
    params: { n: 3 },
    env: { SCRNA_API_URL: r.url, SCRNA_API_TOKEN: 'tok-123', SCRNA_RUN_ID: 'run-42' },
  });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.equal(run.trace.length, 7);
  t.same(
    r.events.map((e) => e.seq),
    range(r.events.length),
    'seq runs 1..n, each once, in order',
  );
  t.equal(r.events[0]?.event, 'started');
  t.equal(r.events.at(-1)?.event, 'completed');
  t.equal(r.events.length, 2 + 3 * run.trace.length, 'started + 3 per task + completed');
  const runId = r.events[0]?.runId;
  t.match(runId, /^[0-9a-f-]{36}$/);
  for (const e of r.events) {
    t.match(e, { runId, runName: r.events[0]?.runName, platformRunId: 'run-42', timestamp: ISO_MS, utcTime: /Z$/ });
  }
  t.ok(
    r.headers.every((h) => h.authorization === 'Bearer tok-123' && h['content-type'] === 'application/json'),
    'bearer token and JSON content type on every request',
  );
  const meta = r.events.at(-1)?.metadata;
  t.match(meta?.workflow, { start: ISO_MS, complete: ISO_MS, success: true, sessionId: runId, launchDir: dir });
  t.match(meta?.parameters, { n: 3 });
  assertTasksMatchTrace(t, run, r.events);
  t.notOk(existsSync(spoolOf(dir)), 'no spool file when everything was delivered');
});

t.test('a failing task: process_completed FAILED, then error, then completed with success false', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  const run = await runFixture(dir, { params: { n: 2, fail: 2 }, env: { SCRNA_API_URL: r.url } });
  t.not(run.code, 0, 'the run fails');
  const failed = run.trace.find((row) => row.status === 'FAILED');
  t.match(failed, { name: 'WORK (2)', exit: '3' }, 'Nextflow traced the failure');
  const done = r.events.find((e) => e.event === 'process_completed' && e.trace?.status === 'FAILED');
  t.match(done?.trace, { task_id: Number(failed?.task_id), hash: failed?.hash, exit: 3 });
  const names = r.events.map((e) => e.event);
  t.ok(done && names.indexOf('error') > r.events.indexOf(done), 'error after the failed completion');
  t.equal(names.at(-1), 'completed');
  t.match(r.events.at(-1)?.metadata?.workflow, { success: false, exitStatus: 3 });
  t.same(
    r.events.map((e) => e.seq),
    range(r.events.length),
  );
});

t.test('batches up to scrna.batchSize while the receiver is slow, still in order', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  r.delayMs = 600;
  const run = await runFixture(dir, {
    params: { n: 4 },
    config: 'scrna { batchSize = 4; flushTimeout = "20s" }',
    env: { SCRNA_API_URL: r.url },
  });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.same(
    r.events.map((e) => e.seq),
    range(2 + 3 * run.trace.length),
  );
  t.ok(Math.max(...r.batches) <= 4, `batches ${r.batches.join(',')} are at most 4 events`);
  t.ok(Math.max(...r.batches) > 1, 'events queued during a slow request go out together');
});

t.test('scrna.linger gathers events into fewer requests even when the receiver keeps up', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  const run = await runFixture(dir, { params: { n: 4 }, config: 'scrna { linger = "2s" }', env: { SCRNA_API_URL: r.url } });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  const n = 2 + 3 * run.trace.length;
  t.same(
    r.events.map((e) => e.seq),
    range(n),
    'every event once, in order',
  );
  // Without lingering a receiver this fast gets nearly one request per event.
  t.ok(r.batches.length <= n / 4, `${n} events in ${r.batches.length} requests (${r.batches.join(',')})`);
});

t.test('receiver down mid-run: events are spooled, then replayed in order when it returns', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  let outage: Promise<void> | undefined;
  r.onEvent = (e) => {
    if (!outage && e.event === 'process_completed') {
      r.onEvent = undefined;
      outage = r.down().then(() => new Promise((res) => setTimeout(res, 3000)).then(() => r.up()));
    }
  };
  const run = await runFixture(dir, { params: { n: 3, sleep: 3 }, env: { SCRNA_API_URL: r.url } });
  await outage;
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.match(run.out, /cannot deliver events/, 'the outage is logged');
  const unique = r.unique();
  t.same(
    unique.map((e) => e.seq),
    range(2 + 3 * run.trace.length),
    'every event arrived, first arrivals in seq order',
  );
  assertTasksMatchTrace(t, run, unique);
  t.notOk(existsSync(spoolOf(dir)), 'spool removed once replayed');
});

t.test('receiver unreachable to the end: flush gives up at the deadline and leaves the spool for replay', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  await r.down();
  const run = await runFixture(dir, { params: { n: 2 }, config: 'scrna { flushTimeout = "1s" }', env: { SCRNA_API_URL: r.url } });
  await r.up();
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.match(run.out, /scrna events replay .*\.scrna-events\.jsonl/, 'tells how to replay');
  const spooled = await readSpool(dir);
  t.same(
    spooled.map((e) => e.seq),
    range(2 + 3 * run.trace.length),
    'the spool holds every event, in order',
  );
  assertTasksMatchTrace(t, run, spooled);
});

t.test('a wrong token keeps events in the spool and the run succeeds', async (t) => {
  const dir = await launchDir(t);
  const r = await receiver(t);
  r.status = 401;
  const run = await runFixture(dir, {
    params: { n: 1 },
    config: 'scrna { flushTimeout = "1s"; token = "bad" }',
    env: { SCRNA_API_URL: r.url },
  });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.match(run.out, /HTTP 401 \(check scrna\.token/);
  t.equal(r.events.length, 0);
  t.equal((await readSpool(dir)).length, 2 + 3 * run.trace.length);
});

// A client that waited on each request (nf-weblog) would add 5 s per event here: about two minutes for this run.
// Wall times on the shared 2-core machine vary by several seconds between runs, hence the noise allowance.
t.test('a receiver that takes 5 s per request does not slow the run down', async (t) => {
  const params = { n: 3, sleep: 1 };
  const base = await runFixture(await launchDir(t), { params, platform: false });
  t.equal(base.code, 0, 'nextflow succeeds', { output: base.out });
  const dir = await launchDir(t);
  const r = await receiver(t);
  r.delayMs = 5000;
  const run = await runFixture(dir, { params, config: 'scrna { flushTimeout = "2s" }', env: { SCRNA_API_URL: r.url } });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  const extra = run.wallMs - base.wallMs;
  t.comment(`unreported ${Math.round(base.wallMs)} ms, reported to a 5 s receiver ${Math.round(run.wallMs)} ms`);
  t.ok(extra < 2000 + 15_000, `added wall time ${Math.round(extra)} ms stays within the 2 s flush deadline plus noise`);
  const spooled = existsSync(spoolOf(dir)) ? await readSpool(dir) : [];
  t.same(
    [...new Set([...r.events, ...spooled].map((e) => e.seq))].sort((a, b) => a - b),
    range(2 + 3 * run.trace.length),
    'nothing lost: each event was delivered or is in the spool',
  );
});

t.test('-resume reports the reused tasks as process_cached with status CACHED', async (t) => {
  const dir = await launchDir(t);
  const first = await runFixture(dir, { params: { n: 2 }, platform: false });
  t.equal(first.code, 0, 'nextflow succeeds', { output: first.out });
  const r = await receiver(t);
  const run = await runFixture(dir, { params: { n: 2 }, resume: true, env: { SCRNA_API_URL: r.url } });
  t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
  t.ok(
    run.trace.every((row) => row.status === 'CACHED'),
    'Nextflow itself reused every task',
  );
  const cached = r.events.filter((e) => e.event === 'process_cached');
  t.same(
    cached.map((e) => [e.trace?.task_id, e.trace?.hash, e.trace?.status]).sort(),
    run.trace.map((row) => [Number(row.task_id), row.hash, 'CACHED']).sort(),
  );
  t.notOk(
    r.events.some((e) => e.event === 'process_submitted'),
    'nothing was submitted',
  );
});

t.test('disabled, unconfigured or misconfigured, the plugin sends nothing and the run is unchanged', async (t) => {
  const r = await receiver(t);
  const off = await runFixture(await launchDir(t), {
    params: { n: 2 },
    config: 'scrna { enabled = false }',
    env: { SCRNA_API_URL: r.url },
  });
  const noUrl = await runFixture(await launchDir(t), { params: { n: 2 } });
  const badUrl = await runFixture(await launchDir(t), { params: { n: 2 }, env: { SCRNA_API_URL: 'ftp://127.0.0.1/x' } });
  t.match(badUrl.out, /nf-scrna: not reporting events -- .*http\(s\) URL/, 'a bad URL is a warning, not a failed run');
  t.equal(r.events.length, 0, 'no request reached the receiver');
  for (const run of [off, noUrl, badUrl]) {
    t.equal(run.code, 0, 'nextflow succeeds', { output: run.out });
    t.same(
      run.trace.map((row) => row.status),
      Array(5).fill('COMPLETED'),
    );
  }
});
