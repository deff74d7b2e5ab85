// Delivery health at the end of a run: events left in the nf-scrna spool (its tail, end event included) are flagged,
// not reported as healthy; replaying the spool makes the count exact; a gap below the end is counted. And the log
// follower's documented `follow=true` is what the server takes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { fixtures, platformFor, platformRunWithToken } from './helpers.js';

// A real nf-scrna capture: seq 1..20, the last one the end-of-run `completed` event.
const capture: Record<string, unknown>[] = JSON.parse(await readFile(path.join(fixtures, 'capture-events.json'), 'utf8'));

async function setup(t: Test) {
  const p = await platformFor(t);
  const runToken = `per-run-${crypto.randomUUID()}`;
  const run = await platformRunWithToken(p, runToken, 'RUNNING');
  const send = async (events: Record<string, unknown>[]) => {
    const r = await p.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      payload: events.map((e) => ({ ...e, platformRunId: run.id })),
      headers: { authorization: `Bearer ${runToken}` },
    });
    t.equal(r.statusCode, 202, r.body);
    await p.ingester.drain();
  };
  const delivery = async () => (await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json().delivery;
  return { p, run, send, delivery };
}

t.test('the tail of a run still in the plugin spool is flagged, then counted once replayed', async (t) => {
  const { p, run, send, delivery } = await setup(t);
  t.equal(capture.at(-1)!.event, 'completed');
  const delivered = capture.slice(0, 14);
  await send(delivered);
  t.match(await delivery(), { maxSeq: 14, missingSeq: 0, endReceived: false, unacknowledged: 0 }, 'mid-run: nothing missing yet');

  // The API was down at the end: Nextflow finished (the launcher says so), seq 15..20 stayed in the spool.
  await p.repos.runs.advance(run.id, 'COMPLETED');
  t.match(
    await delivery(),
    { maxSeq: 14, missingSeq: 0, endReceived: false, unacknowledged: null },
    'ended without the end event: the count is unknown, not 0',
  );

  // `scrna events replay` of the spool.
  await send(capture.slice(14));
  t.match(await delivery(), { maxSeq: 20, missingSeq: 0, endReceived: true, unacknowledged: 0 });
});

t.test('a gap below the end event is counted as unacknowledged', async (t) => {
  const { send, delivery } = await setup(t);
  await send(capture.filter((e) => e.seq !== 7 && e.seq !== 12));
  t.match(await delivery(), { maxSeq: 20, missingSeq: 2, endReceived: true, unacknowledged: 2 });
});

t.test('runs without numbered events: unknowable, said as null', async (t) => {
  const { delivery } = await setup(t);
  t.match(await delivery(), { maxSeq: null, unacknowledged: null, endReceived: false });
});

t.test('log follower: follow=true as documented', async (t) => {
  const { p, run } = await setup(t);
  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  const summaries = [doc.paths['/api/v1/runs/{id}/log'].get.summary, doc.paths['/api/v1/runs/{id}/tasks/{taskId}/log'].get.summary];
  for (const s of summaries) t.match(s, /follow=true/, 'the OpenAPI summary names the value the server takes');
  const readme = await readFile(path.join(import.meta.dirname, '../../api/README.md'), 'utf8');
  t.notMatch(readme, /follow=1/, 'the README names no value the server refuses');
  await p.repos.runs.advance(run.id, 'COMPLETED');
  const r = await p.app.inject({ url: `/api/v1/runs/${run.id}/log?follow=true` });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /text\/event-stream/);
  t.match(r.body, /event: end/);
});
