// POST /api/v1/events as nf-weblog and the nf-scrna plugin send them: auth, shapes, dedupe, runs created on first
// event, delivery health, and the run list/detail they feed.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { fixtures, platformFor, platformRunWithToken } from './helpers.js';

const events: Record<string, unknown>[] = JSON.parse(await readFile(path.join(fixtures, 'events-run.json'), 'utf8'));

async function apiToken(p: Awaited<ReturnType<typeof platformFor>>) {
  const r = await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'head-node' } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return r.json().token as string;
}

t.test('events need a token and well-formed bodies', async (t) => {
  const p = await platformFor(t);
  const token = await apiToken(p);
  const post = (payload: unknown, auth?: string, contentType = 'application/json') =>
    p.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      headers: { 'content-type': contentType, ...(auth ? { authorization: auth } : {}) },
    });
  t.equal((await post(events[0])).statusCode, 401, 'no token');
  t.equal((await post(events[0], 'Bearer nope')).statusCode, 401, 'unknown token');
  const bad = await post([events[1], { ...events[2], trace: { ...(events[2]!.trace as object), task_id: 'x' } }], `Bearer ${token}`);
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().field, '[1].trace.task_id');
  const noRun = await post({ event: 'started', runName: 'x' }, `Bearer ${token}`);
  t.equal(noRun.json().field, 'runId');
  const junk = await post('{"event": ', `Bearer ${token}`);
  t.equal(junk.statusCode, 400, 'broken JSON');
  t.equal((await post('[1,2]', `Bearer ${token}`)).json().field, '[0]');
  t.equal((await post('hello', `Bearer ${token}`, 'text/plain')).statusCode, 415);
  await p.ingester.drain();
  t.equal((await p.repos.runs.list({ limit: 10 })).total, 0, 'nothing stored from rejected requests');
});

t.test('a head-node run reported by nf-weblog is created on its first event and fills in', async (t) => {
  const p = await platformFor(t);
  const token = await apiToken(p);
  // nf-weblog: one event per request, Basic user:token.
  const basic = `Basic ${Buffer.from(`nextflow:${token}`).toString('base64')}`;
  for (const e of events) {
    const r = await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: e, headers: { authorization: basic } });
    t.equal(r.statusCode, 202);
    t.same(r.json(), { accepted: 1 });
  }
  // and again, all at once (duplicates are ignored)
  const again = await p.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    payload: events,
    headers: { authorization: `Bearer ${token}` },
  });
  t.same(again.json(), { accepted: events.length });
  await p.ingester.drain();

  const list = (await p.app.inject({ url: '/api/v1/runs' })).json();
  t.equal(list.total, 1);
  const run = list.items[0];
  t.equal(run.source, 'weblog');
  t.equal(run.runName, 'jovial_hopper');
  t.equal(run.status, 'COMPLETED');
  t.equal(run.nextflowVersion, '24.10.8');
  t.equal(run.delivery.eventsReceived, events.length, 'each event stored once');
  const started = events[0]!.metadata as { workflow: { start: { hour: number; minute: number; second: number } } };
  const s = new Date(run.startedAt);
  t.same(
    [s.getUTCHours(), s.getUTCMinutes(), s.getUTCSeconds()],
    [started.workflow.start.hour, started.workflow.start.minute, started.workflow.start.second],
    'exploded OffsetDateTime read',
  );

  const detail = (await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json();
  t.same(detail.progress, { submitted: 0, running: 0, completed: 4, failed: 2, cached: 0, aborted: 0, total: 6 });
  const procs = (await p.app.inject({ url: `/api/v1/runs/${run.id}/processes` })).json().items;
  t.same(
    procs.map((x: { process: string; counts: { total: number } }) => [x.process, x.counts.total]),
    [
      ['ALIGN', 4],
      ['FLAKY', 1],
      ['MERGE', 1],
    ],
  );
});

t.test('plugin batches: per-run token, seq gaps, platformRunId', async (t) => {
  const p = await platformFor(t);
  const token = await apiToken(p);
  // A platform run is created with a per-run token: stand in for POST /runs with the store.
  const runToken = 'per-run-secret';
  const run = await platformRunWithToken(p, runToken);
  const withSeq = events.map((e, i) => ({ ...e, seq: i + 1, timestamp: new Date().toISOString(), platformRunId: run.id }));
  const sent = withSeq.filter((_, i) => i !== 4 && i !== 9); // two lost
  const r = await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: sent, headers: { authorization: `Bearer ${runToken}` } });
  t.equal(r.statusCode, 202);
  await p.ingester.drain();
  const d = (await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json();
  t.equal(d.source, 'platform');
  t.equal(d.sessionId, events[0]!.runId, 'the platform run learns its Nextflow session');
  t.same(d.delivery.maxSeq, events.length);
  t.equal(d.delivery.missingSeq, 2, 'two sequence numbers never arrived');
  t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 1, 'no second run for the same session');

  // Another API token may not report on the platform run; an admin token may.
  const late = { ...withSeq[4]!, platformRunId: run.id };
  const foreign = await p.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    payload: late,
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(foreign.statusCode, 403);
  t.equal(foreign.json().field, 'platformRunId');
  const admin = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'ops', admin: true } })).json().token;
  await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: late, headers: { authorization: `Bearer ${admin}` } });
  await p.ingester.drain();
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json().delivery.missingSeq, 1);
});

t.test('run list: filters, labels, text search, keyset pagination', async (t) => {
  const p = await platformFor(t);
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < 7; i++) {
    const id = crypto.randomUUID();
    await p.repos.runs.create({
      id,
      name: `batch-${i}`,
      status: i % 2 ? 'COMPLETED' : 'FAILED',
      source: 'platform',
      submitter: i < 3 ? 'lims' : 'alice',
      labels: { project: i < 4 ? 'atlas' : 'pilot', ...(i === 6 ? { urgent: '' } : {}) },
    });
    await p.pool.query('UPDATE runs SET created_at = $2 WHERE id = $1', [id, new Date(base + i * 3_600_000)]);
  }
  const get = async (qs: string) => {
    const r = await p.app.inject({ url: `/api/v1/runs?${qs}` });
    t.equal(r.statusCode, 200, qs);
    return r.json();
  };
  t.equal((await get('status=COMPLETED')).total, 3);
  t.equal((await get('label=project=atlas')).total, 4);
  t.equal((await get('label=urgent')).total, 1);
  t.equal((await get('label=project=pilot&submitter=alice&status=FAILED')).total, 2);
  t.equal((await get('q=batch-5')).items[0].name, 'batch-5');
  t.equal((await get(`from=${new Date(base + 2 * 3_600_000).toISOString()}&to=${new Date(base + 5 * 3_600_000).toISOString()}`)).total, 3);
  const names: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const page: { items: { name: string }[]; nextCursor: string | null; total: number } = await get(
      `limit=3${cursor ? `&cursor=${cursor}` : ''}`,
    );
    t.equal(page.total, 7);
    names.push(...page.items.map((x) => x.name));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  t.same(names, ['batch-6', 'batch-5', 'batch-4', 'batch-3', 'batch-2', 'batch-1', 'batch-0'], 'pages cover every run once, newest first');
  t.equal((await p.app.inject({ url: '/api/v1/runs?cursor=garbage' })).json().field, 'cursor');
  t.equal((await p.app.inject({ url: '/api/v1/runs?status=DANCING' })).statusCode, 400);
  t.equal((await p.app.inject({ url: '/api/v1/runs?limit=0' })).statusCode, 400);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${crypto.randomUUID()}` })).statusCode, 404);
  t.equal((await p.app.inject({ url: '/api/v1/runs/not-a-uuid' })).statusCode, 400);
});
