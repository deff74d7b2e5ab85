// "Accepted" means durably stored: an event answered 202 is in the spool on disk (a write-ahead log the API writes to
// the database behind the answer) and then in the database, whatever happens to the database or the API after; once
// the API knows the database is out of reach, senders get 503 (retry); spooled events are written when it is back,
// also by the next API process when this one stopped first. Values the database could not store are refused with the
// field named.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { createPlatform } from '../../api/src/composition.js';
import { loadConfig } from '../../api/src/config.js';
import { freshDatabase } from '../helpers/db.js';
import { tcpProxy } from '../helpers/tcp-proxy.js';
import { fixtures, platformFor } from './helpers.js';

const event = (i: number, extra: object = {}) => ({
  runName: 'durable_run',
  runId: '5d6e7f80-1111-4222-8333-944455556666',
  event: 'process_completed',
  utcTime: new Date().toISOString(),
  seq: i + 1,
  trace: { task_id: i + 1, status: 'COMPLETED', process: 'STEP', name: `STEP (${i + 1})`, hash: `aa/${i}` },
  ...extra,
});

/** A database behind a proxy that can be cut, and a direct connection to count what it holds. */
async function outageRig(t: Test) {
  const db = await freshDatabase('durable');
  const url = new URL(db.url);
  const proxy = await tcpProxy(url.hostname, Number(url.port));
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  const direct = new pg.Client({ connectionString: db.url });
  await direct.connect();
  t.teardown(async () => {
    await direct.end();
    await proxy.close();
    await db.drop();
  });
  const stored = async () => Number((await direct.query('SELECT count(*) AS n FROM events')).rows[0].n);
  return { proxy, databaseUrl: viaProxy.toString(), stored };
}

t.test('202 once spooled, stored behind it; 503 once the database is known unreachable; none lost', async (t) => {
  const { proxy, databaseUrl, stored } = await outageRig(t);
  const p = await platformFor(t, { databaseUrl });
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'head' } })).json().token as string;
  const post = (body: object, auth = token) =>
    p.app.inject({ method: 'POST', url: '/api/v1/events', payload: body, headers: { authorization: `Bearer ${auth}` } });

  let accepted = 0;
  let next = 0;
  for (let i = 0; i < 20; i++) if ((await post(event(next++))).statusCode === 202) accepted++;
  t.equal(accepted, 20);
  await p.ingester.drain();
  t.equal(await stored(), 20, 'every 202 is in the database once the spool is written');

  await proxy.cut();
  const during = await Promise.all(Array.from({ length: 10 }, () => post(event(next++))));
  for (const r of during) if (r.statusCode === 202) accepted++;
  t.ok(
    during.every((r) => r.statusCode === 202 || r.statusCode === 503),
    `at the cut: spooled (202) until the API notices, then 503 (${during.map((r) => r.statusCode)})`,
  );
  // The first write after the cut fails; from then on requests are refused, not spooled.
  let refused = null;
  for (let i = 0; i < 100 && !refused; i++) {
    const r = await post(event(next++));
    if (r.statusCode === 202) accepted++;
    else refused = r;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(refused?.statusCode, 503, 'while the database is out of reach: 503, so the sender retries');
  t.match(refused!.json(), { statusCode: 503, message: /unavailable/ });
  t.equal(refused!.headers['retry-after'], '5', 'with Retry-After, so the plugin knows when to replay');
  t.equal((await p.app.inject({ url: '/readyz' })).statusCode, 503, '/readyz reports the outage');
  const unknownToken = await post(event(next), 'a-token-not-in-the-cache');
  t.equal(unknownToken.statusCode, 503, 'a token lookup that misses the cache is a 503 too, not a 500');

  await proxy.restore();
  t.equal((await p.app.inject({ url: '/readyz' })).statusCode, 200, 'and its end, with no restart');
  for (let i = 0; i < 10; i++) if ((await post(event(next++))).statusCode === 202) accepted++;
  t.ok(accepted >= 30, `${accepted} accepted`);
  await p.ingester.drain();
  t.equal(await stored(), accepted, 'after the outage: exactly the accepted events are stored (the spooled ones too)');
});

t.test('events spooled while the database is down are stored by the next API process', async (t) => {
  const { proxy, databaseUrl, stored } = await outageRig(t);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'scrna-spool-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const config = {
    ...loadConfig({ ...process.env, DATABASE_URL: databaseUrl, SCRNA_ADMIN_TOKEN: 'spool-admin-token' }),
    dataDir,
    workflowsDir: path.join(fixtures, 'workflows'),
  };
  const post = (p: Awaited<ReturnType<typeof createPlatform>>, i: number) =>
    p.app.inject({ method: 'POST', url: '/api/v1/events', payload: event(i), headers: { authorization: 'Bearer spool-admin-token' } });

  const first = await createPlatform(config, { recover: false });
  t.equal((await post(first, 0)).statusCode, 202);
  await first.ingester.drain();
  await proxy.cut();
  // Spooled before the API learns of the outage: answered 202, then not writable.
  const spooled = (await Promise.all([1, 2, 3, 4, 5].map((i) => post(first, i)))).filter((r) => r.statusCode === 202).length;
  t.ok(spooled >= 1, `${spooled} accepted after the cut`);
  await first.close();
  const left = (await readdir(path.join(dataDir, 'event-spool'))).length;
  t.ok(left >= 1, 'what could not be written is still in the spool');
  t.equal(await stored(), 1, 'and not in the database');

  await proxy.restore();
  const second = await createPlatform(config, { recover: false });
  t.teardown(() => second.close());
  await second.ingester.drain();
  t.equal(await stored(), 1 + spooled, 'the next process wrote every accepted event');
  t.equal((await post(second, 0)).statusCode, 202, 'a re-sent event is accepted');
  await second.ingester.drain();
  t.equal(await stored(), 1 + spooled, 'and stored once');
});

t.test('values the database cannot hold are 400s naming the field, and store nothing', async (t) => {
  const p = await platformFor(t);
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'head' } })).json().token as string;
  const post = (body: unknown) =>
    p.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      payload: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
  const cases: [string, unknown, string][] = [
    ['seq over 2^31', event(0, { seq: 2 ** 31 }), 'seq'],
    ['task_id over 2^31', event(0, { trace: { task_id: 2 ** 31, status: 'COMPLETED' } }), 'trace.task_id'],
    ['attempt over 2^31', event(0, { trace: { task_id: 1, attempt: 2 ** 31, status: 'COMPLETED' } }), 'trace.attempt'],
    ['NUL in a string', event(0, { runName: 'nul\u0000here' }), 'body'],
    ['the bad one of a batch', [event(1), event(2, { seq: 2 ** 31 })], '[1].seq'],
  ];
  for (const [what, body, field] of cases) {
    const r = await post(body);
    t.equal(r.statusCode, 400, what);
    t.equal(r.json().field, field, `${what}: field named`);
  }
  t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 0, 'nothing of a refused request was stored');
});
