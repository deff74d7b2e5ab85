// "Accepted" means stored: an event answered 202 is in the database, whatever happens to the database after; while
// it is out of reach, senders get 503 (retry), never a 202 for an event that is then lost; values the database could
// not store are refused with the field named.
import pg from 'pg';
import t from 'tap';
import { freshDatabase } from '../helpers/db.js';
import { tcpProxy } from '../helpers/tcp-proxy.js';
import { platformFor } from './helpers.js';

const event = (i: number, extra: object = {}) => ({
  runName: 'durable_run',
  runId: '5d6e7f80-1111-4222-8333-944455556666',
  event: 'process_completed',
  utcTime: new Date().toISOString(),
  seq: i + 1,
  trace: { task_id: i + 1, status: 'COMPLETED', process: 'STEP', name: `STEP (${i + 1})`, hash: `aa/${i}` },
  ...extra,
});

t.test('202 only once stored; 503 while the database is unreachable; none lost', async (t) => {
  const db = await freshDatabase('durable');
  const url = new URL(db.url);
  const proxy = await tcpProxy(url.hostname, Number(url.port));
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  const p = await platformFor(t, { databaseUrl: viaProxy.toString() });
  t.teardown(async () => {
    await proxy.close();
    await db.drop();
  });
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'head' } })).json().token as string;
  const post = (body: object, auth = token) =>
    p.app.inject({ method: 'POST', url: '/api/v1/events', payload: body, headers: { authorization: `Bearer ${auth}` } });
  const direct = new pg.Client({ connectionString: db.url });
  await direct.connect();
  t.teardown(() => direct.end());
  const stored = async () => Number((await direct.query('SELECT count(*) AS n FROM events')).rows[0].n);

  let accepted = 0;
  let next = 0;
  for (let i = 0; i < 20; i++) if ((await post(event(next++))).statusCode === 202) accepted++;
  t.equal(accepted, 20);
  t.equal(await stored(), 20, 'every 202 is already in the database when it is answered');

  await proxy.cut();
  const during = await Promise.all(Array.from({ length: 10 }, () => post(event(next++))));
  t.same(
    during.map((r) => r.statusCode),
    Array(10).fill(503),
    'while the database is out of reach: 503, so the sender retries',
  );
  t.match(during[0]!.json(), { statusCode: 503, message: /unavailable/ });
  t.equal(during[0]!.headers['retry-after'], '5', 'with Retry-After, so the plugin knows when to replay');
  t.equal((await p.app.inject({ url: '/readyz' })).statusCode, 503, '/readyz reports the outage');
  const unknownToken = await post(event(next), 'a-token-not-in-the-cache');
  t.equal(unknownToken.statusCode, 503, 'a token lookup that misses the cache is a 503 too, not a 500');

  await proxy.restore();
  t.equal((await p.app.inject({ url: '/readyz' })).statusCode, 200, 'and its end, with no restart');
  for (let i = 0; i < 10; i++) if ((await post(event(next++))).statusCode === 202) accepted++;
  t.equal(accepted, 30);
  t.equal(await stored(), accepted, 'after the outage: exactly the accepted events are stored');
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
