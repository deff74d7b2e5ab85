// Webhooks end to end on a real API and Postgres: target checks (no private or loopback address unless the operator
// allows its network), a run's events delivered signed (verified here with the standardwebhooks library), in order,
// to a receiver that is down for the first attempts, across an API restart; the delivery log, redelivery, forged and
// stale signatures refused by the verifier, and project isolation.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import t from 'tap';
import { createPlatform } from '../../api/src/composition.js';
import { hashToken } from '../../api/src/domain/auth.js';
import { outcomeOf, retryDelay } from '../../api/src/domain/webhooks.js';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const ADMIN = 'admin-token-for-webhooks-0123456789';
const fast = { retryBaseMs: 50, retryMaxMs: 400, retryWindowMs: 3_600_000, pollMs: 100 };

interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A receiver on loopback that can be down (connection refused) or up, recording what reaches it. */
async function receiver() {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const got: Received[] = [];
  let server: Server | null = null;
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let b = '';
      req.on('data', (c: Buffer) => {
        b += c.toString();
      });
      req.on('end', () => resolve(b));
    });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    async up() {
      server = createServer(async (req, res) => {
        got.push({ headers: req.headers as Record<string, string>, body: await read(req) });
        res.writeHead(204).end();
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    },
    async down() {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = null;
    },
  };
}

/** Waits (bounded) until cond holds. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

t.test('a subscription may not point at private or loopback addresses unless allowed', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const post = (url: string, events: string[] = ['run.completed']) =>
    p.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: { authorization: `Bearer ${ADMIN}` }, payload: { url, events } });
  for (const bad of [
    'http://127.0.0.1:9/hook',
    'http://localhost:9/hook',
    'http://10.1.2.3/hook',
    'http://192.168.0.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
  ]) {
    const r = await post(bad);
    t.equal(r.statusCode, 400, bad);
    t.equal(r.json().field, 'url');
    t.match(r.json().message, /not a public address/);
  }
  for (const [bad, why] of [
    ['file:///etc/passwd', /only http and https/],
    ['ftp://example.org/x', /only http and https/],
    ['http://user:pw@example.org/x', /credentials/],
    ['not a url', /not an absolute URL/],
  ] as const) {
    const r = await post(bad);
    t.equal(r.statusCode, 400, bad);
    t.match(r.json().message, why);
  }
  const unknown = await post('http://example.invalid/x', ['run.exploded']);
  t.equal(unknown.statusCode, 400, 'an unknown event type');
  t.equal((await p.app.inject({ url: '/api/v1/webhooks' })).statusCode, 401, 'no token, no list');
  t.same(
    (await p.app.inject({ url: '/api/v1/webhooks', headers: { authorization: `Bearer ${ADMIN}` } })).json(),
    { items: [] },
    'nothing stored',
  );
});

t.test('a run’s events reach a receiver that was down, signed and in order, across an API restart', async (t) => {
  const rx = await receiver();
  t.teardown(() => rx.down());
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, webhooks: { ...fast, allowNetworks: ['127.0.0.0/8'] } });
  const auth = { authorization: `Bearer ${ADMIN}` };
  const sub = await p.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: auth,
    payload: { url: rx.url, events: ['run.status_changed', 'run.completed', 'run.failed', 'run.results_ingested'] },
  });
  t.equal(sub.statusCode, 201, sub.body);
  const hook = sub.json();
  t.match(hook.secret, /^whsec_[A-Za-z0-9+/]+=*$/, 'the secret, shown once');
  const listed = (await p.app.inject({ url: '/api/v1/webhooks', headers: auth })).json().items;
  t.same(
    listed.map((h: Record<string, unknown>) => [h.id, h.secret]),
    [[hook.id, undefined]],
    'listed without the secret',
  );

  // The run moves through its states while the receiver is down.
  const id = crypto.randomUUID();
  await p.repos.runs.create({ id, name: 'hooked', status: 'QUEUED', source: 'platform' });
  for (const s of ['SUBMITTED', 'RUNNING', 'COMPLETED'] as const) await p.repos.runs.advance(id, s);
  await p.pool.query('UPDATE runs SET results_ingested_at = now() WHERE id = $1', [id]);
  const deliveries = async (app = p.app) =>
    (await app.inject({ url: `/api/v1/webhooks/${hook.id}/deliveries?limit=100`, headers: auth })).json().items as {
      id: string;
      state: string;
      attempts: number;
      lastError: string | null;
    }[];
  await until(async () => (await deliveries()).some((d) => d.attempts >= 2), 'retries while the receiver is down');
  const failing = (await deliveries()).find((d) => d.attempts >= 2)!;
  t.match(failing.lastError, /ECONNREFUSED/, 'the refusal is in the log');
  t.equal(rx.got.length, 0, 'nothing received yet');
  const waiting = await deliveries();
  t.equal(waiting.filter((d) => d.attempts > 0).length, 1, 'only the oldest is attempted: later ones wait behind it');

  // The API restarts on the same database; the receiver comes up.
  await p.close();
  const again = await createPlatform(p.config, { checkResponses: true, recover: false });
  // Closed before platformFor's teardown drops the database under it.
  let closed = false;
  t.teardown(() => closed || again.close());
  await rx.up();
  await until(() => rx.got.length >= 6, 'all six messages');
  await sleep(300);

  const wh = new Webhook(hook.secret);
  const events = rx.got.map((m) => wh.verify(m.body, m.headers) as { type: string; data: Record<string, unknown> });
  t.same(
    events.map((e) => [e.type, e.data.status, e.data.previousStatus]),
    [
      ['run.status_changed', 'QUEUED', null],
      ['run.status_changed', 'SUBMITTED', 'QUEUED'],
      ['run.status_changed', 'RUNNING', 'SUBMITTED'],
      ['run.status_changed', 'COMPLETED', 'RUNNING'],
      ['run.completed', 'COMPLETED', 'RUNNING'],
      ['run.results_ingested', 'COMPLETED', 'COMPLETED'],
    ],
    'every event, verified, in the order it happened',
  );
  t.ok(
    events.every((e) => e.data.runId === id),
    'about the run',
  );
  const ids = rx.got.map((m) => m.headers['webhook-id']);
  t.equal(new Set(ids).size, 6, 'each message once (the receiver answered every attempt that reached it)');
  const log = await deliveries(again.app);
  t.ok(
    log.every((d) => d.state === 'delivered'),
    'all delivered',
  );
  const first = (await again.app.inject({ url: `/api/v1/webhooks/${hook.id}/deliveries/${failing.id}`, headers: auth })).json();
  t.ok(first.attemptLog.length >= 3, 'its attempts: refused ones, then the delivery');
  t.match(first.attemptLog[0].error, /ECONNREFUSED/);
  t.equal(first.attemptLog.at(-1).status, 204);

  // Signatures: a forged body, a wrong secret and a stale timestamp are refused by the verifier.
  const m = rx.got[0]!;
  t.throws(() => wh.verify(m.body.replace('QUEUED', 'FAILED'), m.headers), WebhookVerificationError, 'forged body');
  const other = new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`);
  t.throws(() => other.verify(m.body, m.headers), WebhookVerificationError, 'another secret');
  const old = new Date(Date.now() - 10 * 60_000);
  const stale = {
    'webhook-id': m.headers['webhook-id']!,
    'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
    'webhook-signature': wh.sign(m.headers['webhook-id']!, old, m.body),
  };
  t.throws(() => wh.verify(m.body, stale), WebhookVerificationError, 'a correctly signed but stale message');

  // Redelivery: the same message again, same id.
  const r = await again.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${hook.id}/deliveries/${failing.id}/redeliver`,
    headers: auth,
  });
  t.equal(r.statusCode, 202);
  await until(() => rx.got.length >= 7, 'the redelivery');
  t.equal(rx.got[6]!.headers['webhook-id'], `msg_${failing.id}`, 'same message id');
  t.same(wh.verify(rx.got[6]!.body, rx.got[6]!.headers), events[ids.indexOf(`msg_${failing.id}`)], 'same message');
  await again.close();
  closed = true;
});

t.test('subscriptions and deliveries stay inside their project', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, webhooks: { ...fast, allowNetworks: ['127.0.0.0/8'] } });
  await p.pool.query(`INSERT INTO projects (id, name) VALUES ('lab-b', 'Lab B')`);
  const tokenB = 'token-of-lab-b-0123456789abcdef';
  await p.repos.tokens.create({
    id: crypto.randomUUID(),
    name: 'b',
    hash: hashToken(tokenB),
    project: 'lab-b',
    scopes: ['runs:read', 'runs:write'],
  });
  const a = { authorization: `Bearer ${ADMIN}` };
  const b = { authorization: `Bearer ${tokenB}` };
  const hook = (
    await p.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: a,
      payload: { url: 'http://127.0.0.1:9/a', events: ['run.completed'] },
    })
  ).json();
  t.same((await p.app.inject({ url: '/api/v1/webhooks', headers: b })).json(), { items: [] }, "lab B lists none of the default project's");
  for (const [method, url] of [
    ['GET', `/api/v1/webhooks/${hook.id}`],
    ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
    ['DELETE', `/api/v1/webhooks/${hook.id}`],
  ] as const) {
    const r = await p.app.inject({ method, url, headers: b });
    t.equal(r.statusCode, 404, `${method} ${url} from another project`);
    t.notMatch(r.body, /127\.0\.0\.1/, 'nothing of it in the answer');
  }
  // A run of lab B does not reach the default project's subscription.
  await p.repos.runs.create({ id: crypto.randomUUID(), name: 'b-run', status: 'COMPLETED', source: 'platform', project: 'lab-b' });
  const { rows } = await p.pool.query('SELECT count(*)::int AS n FROM webhook_deliveries');
  t.equal(rows[0].n, 0, "no delivery for another project's run");
  t.equal(
    (await p.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: a })).statusCode,
    204,
    'its own project deletes it',
  );
});

t.test('the retry schedule: exponential, jittered, capped, and given up only after the window', async (t) => {
  const s = { baseMs: 5_000, maxMs: 3_600_000, windowMs: 26 * 3_600_000 };
  t.same(
    [1, 2, 3, 4].map((n) => retryDelay(n, s, () => 1)),
    [5_000, 10_000, 20_000, 40_000],
    'doubling',
  );
  t.equal(
    retryDelay(3, s, () => 0),
    10_000,
    'jitter: down to half',
  );
  t.equal(
    retryDelay(30, s, () => 1),
    3_600_000,
    'capped at maxMs',
  );
  const created = new Date('2026-01-01T00:00:00Z');
  const d = { id: 'd', url: 'u', secret: 's', payload: {}, attempts: 0, createdAt: created };
  const failedAttempt = { status: 500, error: null, durationMs: 3 };
  t.equal(outcomeOf(d, { status: 204, error: null, durationMs: 1 }, s, created).state, 'delivered');
  t.equal(outcomeOf(d, failedAttempt, s, new Date(created.getTime() + 23 * 3_600_000)).state, 'pending', 'still retried after 23 h');
  t.equal(
    outcomeOf({ ...d, attempts: 40 }, failedAttempt, s, new Date(created.getTime() + 26 * 3_600_000)).state,
    'failed',
    'given up after the window',
  );
  // How many attempts a day holds with the defaults (the cap makes it about one an hour after the first few).
  let at = 0;
  let n = 0;
  while (at < 24 * 3_600_000) at += retryDelay(++n, s, () => 0.5);
  t.ok(n >= 20, `${n} attempts within the first 24 h`);
});

t.test('scrna webhooks: add, list, deliveries, redeliver, rm', async (t) => {
  const p = await platformFor(t, { webhooks: { ...fast, allowNetworks: ['127.0.0.0/8'] } });
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const env = { SCRNA_API_URL: `http://127.0.0.1:${(p.app.server.address() as AddressInfo).port}` };
  const cli = (...args: string[]) => run('node', [path.join(repoRoot, 'api/bin/scrna.js'), ...args], { env });
  const rx = await receiver();
  await rx.up();
  t.teardown(() => rx.down());
  const add = await cli('webhooks', 'add', rx.url, '--event', 'run.completed', '--json');
  t.equal(add.code, 0, add.stderr);
  const hook = JSON.parse(add.stdout);
  t.match(hook.secret, /^whsec_/);
  const refused = await cli('webhooks', 'add', 'http://10.0.0.1/x', '--event', 'run.completed');
  t.equal(refused.code, 1);
  t.match(refused.stderr, /400: url: 10\.0\.0\.1: 10\.0\.0\.1 is not a public address/);
  t.match((await cli('webhooks', 'list')).stdout, `${hook.id}  ${rx.url}  run.completed`);
  await p.repos.runs.create({ id: crypto.randomUUID(), name: 'cli-hooked', status: 'COMPLETED', source: 'platform' });
  await until(() => rx.got.length === 1, 'the delivery');
  const deliveries = await cli('webhooks', 'deliveries', hook.id, '--json');
  const [d] = JSON.parse(deliveries.stdout).items;
  t.match(d, { eventType: 'run.completed', state: 'delivered', attempts: 1, lastStatus: 204 });
  t.match((await cli('webhooks', 'deliveries', hook.id)).stdout, /run\.completed .* delivered +1 attempts +204/);
  t.equal((await cli('webhooks', 'redeliver', hook.id, d.id)).code, 0);
  await until(() => rx.got.length === 2, 'the redelivery');
  t.equal((await cli('webhooks', 'rm', hook.id)).code, 0);
  t.match((await cli('webhooks', 'list')).stdout, 'no webhooks');
});
