// With SCRNA_REQUIRE_AUTH on, every operation in the OpenAPI document is walked: no token -> 401, another user's
// token on a run -> 404 (never its data), the owner's token -> through; events cannot forge another run's status;
// odd Authorization headers are 401s, never 500s.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { fixtures, platformFor, platformRunWithToken } from './helpers.js';

const ADMIN = 'admin-token-for-the-matrix-0123456789';
type Platform = Awaited<ReturnType<typeof platformFor>>;

async function mint(p: Platform, name: string, admin = false): Promise<string> {
  const r = await p.app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    payload: { name, admin },
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
  return r.json().token;
}

/** A run owned by `token`, made the way a client makes one: a trace upload (it has tasks, so task routes resolve). */
async function runOwnedBy(p: Platform, token: string): Promise<{ id: string; taskId: number }> {
  const trace = await readFile(path.join(fixtures, 'trace-raw-all.txt'));
  const r = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=owned',
    payload: trace,
    headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
  const id = r.json().run.id as string;
  const tasks = (await p.app.inject({ url: `/api/v1/runs/${id}/tasks?limit=1`, headers: { authorization: `Bearer ${token}` } })).json();
  return { id, taskId: tasks.items[0].task_id };
}

interface Op {
  method: 'GET' | 'POST' | 'DELETE';
  route: string;
}

/** Signing in and out is how a browser gets its credentials, so these alone answer without one. */
const OPEN = ['POST /api/v1/session', 'DELETE /api/v1/session'];

function operations(doc: { paths: Record<string, Record<string, unknown>> }): Op[] {
  return Object.entries(doc.paths).flatMap(([route, ops]) =>
    Object.keys(ops).map((m) => ({ method: m.toUpperCase() as Op['method'], route })),
  );
}

/** Native errors are {statusCode, message}; GA4GH WES ones (under /ga4gh/) {status_code, msg}. */
const errorOf = (body: { statusCode?: number; message?: string; status_code?: number; msg?: string }) => ({
  status: body.statusCode ?? body.status_code,
  message: body.message ?? body.msg,
});
const RUN_PARAM = /\{(id|run_id)\}/;

const request = (op: Op, ids: { id: string; taskId: number }, token?: string) => {
  const url = op.route.replace(RUN_PARAM, ids.id).replace(/\{(taskId|task_id)\}/, String(ids.taskId));
  const trace = url.endsWith('/trace');
  return {
    method: op.method,
    url,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(op.method === 'POST' ? { 'content-type': trace ? 'text/plain' : 'application/json' } : {}),
    },
    ...(op.method === 'POST' ? { payload: trace ? 'task_id\thash\n' : '{}' } : {}),
  };
};

t.test('every operation: no token 401; a foreign run 404; the owner gets through', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, nextflowBin: '/bin/true' });
  const alice = await mint(p, 'alice');
  const bob = await mint(p, 'bob');
  const run = await runOwnedBy(p, alice);
  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  const ops = operations(doc);
  t.ok(ops.length >= 23, `${ops.length} operations in the document`);
  t.same(ops.filter((o) => OPEN.includes(`${o.method} ${o.route}`)).length, OPEN.length, 'the sign-in operations are in the document');
  for (const op of ops.filter((o) => !OPEN.includes(`${o.method} ${o.route}`))) {
    const anon = await p.app.inject(request(op, run));
    t.equal(anon.statusCode, 401, `${op.method} ${op.route} without a token`);
    t.equal(errorOf(anon.json()).status, 401);
  }
  // The run-scoped operations: Bob's token must learn nothing about Alice's run, nor change it.
  const scoped = ops.filter((o) => RUN_PARAM.test(o.route));
  t.ok(scoped.length >= 13, `${scoped.length} run-scoped operations`);
  for (const op of scoped) {
    const foreign = await p.app.inject(request(op, run, bob));
    t.equal(foreign.statusCode, 404, `${op.method} ${op.route} with another user's token`);
    t.equal(errorOf(foreign.json()).message, 'run not found');
  }
  const before = (await p.app.inject({ url: `/api/v1/runs/${run.id}`, headers: { authorization: `Bearer ${alice}` } })).json();
  t.type(before.owner, 'string', 'the run records its owner');
  // The owner (and an admin) reach the same operations: reads answer, writes get past authorisation.
  for (const op of scoped) {
    for (const who of [alice, ADMIN]) {
      const own = await p.app.inject(request(op, run, who));
      t.notOk([401, 403].includes(own.statusCode), `${op.method} ${op.route} as ${who === ADMIN ? 'admin' : 'owner'}: ${own.statusCode}`);
      if (own.statusCode === 404) t.not(errorOf(own.json()).message, 'run not found', `${op.method} ${op.route}: the run is found`);
    }
  }
  // Lists show a non-admin token its own runs only.
  const list = async (token: string) =>
    (await p.app.inject({ url: '/api/v1/runs', headers: { authorization: `Bearer ${token}` } }))
      .json()
      .items.map((r: { id: string }) => r.id);
  t.same(await list(alice), [run.id]);
  t.same(await list(bob), []);
  t.same(await list(ADMIN), [run.id]);
  const relaunchByBob = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/${run.id}/cancel`,
    headers: { authorization: `Bearer ${bob}` },
  });
  t.equal(relaunchByBob.statusCode, 404, 'cancel by another user is refused');
  t.equal(
    (await p.app.inject({ url: `/api/v1/runs/${run.id}`, headers: { authorization: `Bearer ${alice}` } })).json().status,
    before.status,
  );
});

t.test('a browser signs in with a token and gets a cookie that the same rules apply to', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const alice = await mint(p, 'alice');
  const bob = await mint(p, 'bob');
  const run = await runOwnedBy(p, alice);
  const signIn = (token: string) => p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { token } });
  const bad = await signIn('not-a-token');
  t.equal(bad.statusCode, 401);
  t.equal(bad.json().field, 'token');
  t.notOk(bad.headers['set-cookie'], 'no cookie for a bad token');
  const cookieOf = async (token: string) => {
    const r = await signIn(token);
    t.equal(r.statusCode, 200);
    const c = r.cookies.find((x) => x.name === 'scrna_token')!;
    t.ok(c.httpOnly, 'HttpOnly');
    t.equal(c.sameSite, 'Strict');
    t.equal(c.path, '/api/');
    return { scrna_token: c.value };
  };
  const a = await cookieOf(alice);
  const b = await cookieOf(bob);
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: a })).statusCode, 200, 'the owner reads by cookie');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: b })).statusCode, 404, 'another user does not');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: { scrna_token: 'forged' } })).statusCode, 401);
  const out = await p.app.inject({ method: 'DELETE', url: '/api/v1/session', cookies: a });
  t.equal(out.statusCode, 204);
  t.match(String(out.headers['set-cookie']), /scrna_token=;/, 'the cookie is cleared');
});

t.test('open routes stay open with auth required', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  for (const url of ['/healthz', '/readyz', '/api/v1/openapi.json']) t.equal((await p.app.inject({ url })).statusCode, 200, url);
  t.equal((await p.app.inject({ url: '/docs/' })).statusCode, 200, 'Swagger UI');
});

t.test('events cannot move a run they do not belong to', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const alice = await mint(p, 'alice');
  const bob = await mint(p, 'bob');
  const runToken = 'alice-run-token-secret';
  const platformRun = await platformRunWithToken(p, runToken, 'RUNNING');
  const completed = (platformRunId?: string) => ({
    runName: 'tiny_turing',
    runId: '3b1a4c8e-1f2d-4e5f-9a0b-1c2d3e4f5a6b',
    event: 'completed',
    utcTime: new Date().toISOString(),
    metadata: { workflow: { success: false, errorMessage: 'forged by bob', complete: new Date().toISOString() } },
    ...(platformRunId ? { platformRunId } : {}),
  });
  const post = (body: object, token: string) =>
    p.app.inject({ method: 'POST', url: '/api/v1/events', payload: body, headers: { authorization: `Bearer ${token}` } });

  const forged = await post(completed(platformRun.id), bob);
  t.equal(forged.statusCode, 403, 'an API token naming a platform run it does not hold is refused');
  t.equal(forged.json().field, 'platformRunId');
  const otherRun = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'other', status: 'RUNNING', source: 'platform' });
  t.equal(
    (await post([completed(), completed(otherRun.id)], runToken)).json().field,
    '[1].platformRunId',
    'a run token names only its own run',
  );
  await p.ingester.drain();
  for (const id of [platformRun.id, otherRun.id]) {
    const r = (await p.app.inject({ url: `/api/v1/runs/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json();
    t.equal(r.status, 'RUNNING', 'refused events changed nothing');
    t.equal(r.errorMessage, null);
  }

  // A head-node run (no platform id) belongs to the token whose events created it.
  const started = { ...completed(), runId: '9f1a4c8e-1f2d-4e5f-9a0b-1c2d3e4f5a6b', event: 'started', metadata: {} };
  t.equal((await post(started, alice)).statusCode, 202);
  await p.ingester.drain();
  const aliceRuns = (await p.app.inject({ url: '/api/v1/runs', headers: { authorization: `Bearer ${alice}` } })).json().items;
  t.equal(aliceRuns.length, 1);
  const bobJoins = await post({ ...started, event: 'completed', metadata: completed().metadata }, bob);
  t.equal(bobJoins.statusCode, 403, "another token cannot join (or end) alice's head-node run");
  t.equal(bobJoins.json().field, 'runId');
  const ownEnd = await post(
    { ...started, event: 'completed', metadata: { workflow: { success: true, complete: new Date().toISOString() } } },
    alice,
  );
  t.equal(ownEnd.statusCode, 202);
  await p.ingester.drain();
  const after = (await p.app.inject({ url: `/api/v1/runs/${aliceRuns[0].id}`, headers: { authorization: `Bearer ${alice}` } })).json();
  t.equal(after.status, 'COMPLETED', "alice's own events move her run");
});

t.test('Authorization header oddities are 401, never 500', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const odd = [
    `Bearer ${'é'.repeat(ADMIN.length)}`,
    `Bearer ${ADMIN.slice(0, -1)}\u00ff`,
    'Bearer',
    'Bearer ',
    `Bearer ${ADMIN} extra`,
    'Basic !!!not-base64',
    `Basic ${Buffer.from('user:').toString('base64')}`,
    `Basic ${Buffer.from(`user:${'x'.repeat(10_000)}`).toString('base64')}`,
    `Token ${ADMIN}`,
    `Bearer ${'a'.repeat(100_000)}`,
    'Bearer \u0001\u0002',
  ];
  for (const h of odd)
    for (const url of ['/api/v1/runs', '/api/v1/events']) {
      const r = await p.app.inject({
        method: url.endsWith('events') ? 'POST' : 'GET',
        url,
        headers: { authorization: h, 'content-type': 'application/json' },
        payload: url.endsWith('events') ? '{}' : undefined,
      });
      t.equal(r.statusCode, 401, `${url} with ${JSON.stringify(h.slice(0, 40))}`);
    }
  t.equal(
    (await p.app.inject({ url: '/api/v1/runs', headers: { authorization: `Bearer ${ADMIN}` } })).statusCode,
    200,
    'the real token works',
  );
});

t.test('the run-change stream tells a token only of its own runs', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const alice = await mint(p, 'alice');
  const bob = await mint(p, 'bob');
  const aliceRun = await runOwnedBy(p, alice);
  const bobRun = await runOwnedBy(p, bob);
  await p.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = p.app.server.address() as { port: number };
  const heard = (token: string) => {
    const ac = new AbortController();
    const ids: string[] = [];
    const done = fetch(`http://127.0.0.1:${port}/api/v1/stream/runs`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal })
      .then(async (r) => {
        const dec = new TextDecoder();
        for await (const chunk of r.body!) for (const m of dec.decode(chunk).matchAll(/data: (.*)/g)) ids.push(...JSON.parse(m[1]!).ids);
      })
      .catch(() => {});
    const stop = () => {
      ac.abort();
      return done;
    };
    return { ids, stop };
  };
  const a = heard(alice);
  const b = heard(bob);
  await new Promise((r) => setTimeout(r, 200));
  p.app.services.notifier.changed(aliceRun.id, bobRun.id);
  for (let i = 0; i < 50 && (!a.ids.length || !b.ids.length); i++) await new Promise((r) => setTimeout(r, 100));
  await a.stop();
  await b.stop();
  t.same([...new Set(a.ids)], [aliceRun.id], 'alice hears of her run only');
  t.same([...new Set(b.ids)], [bobRun.id], 'bob hears of his run only');
});
