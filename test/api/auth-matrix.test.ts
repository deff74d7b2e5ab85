// With SCRNA_REQUIRE_AUTH on, every operation in the OpenAPI document (each of its representations: JSON, CSV, Arrow,
// text logs and SSE) is walked with four callers, the scope it needs read from the document's `x-scope`: no token
// -> 401; a token of the run's project without that scope -> 403; a token of another project (holding the scope) ->
// 404 on a run (never its data, in no body); the right token -> through. Events cannot forge another run's status;
// odd Authorization headers are 401s, never 500s; revoked tokens stop at once.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { fixtures, platformFor, platformRunWithToken } from './helpers.js';

const ADMIN = 'admin-token-for-the-matrix-0123456789';
type Platform = Awaited<ReturnType<typeof platformFor>>;
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function admin(p: Platform, method: 'POST' | 'DELETE', url: string, payload?: object) {
  const r = await p.app.inject({ method, url, payload, headers: auth(ADMIN) });
  if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.body}`);
  return r.statusCode === 204 ? null : r.json();
}

async function mint(p: Platform, name: string, body: { project?: string; scopes?: string[]; admin?: boolean } = {}): Promise<string> {
  return (await admin(p, 'POST', '/api/v1/tokens', { name, ...body })).token;
}

/** A run made the way a client makes one: a trace upload (it has tasks, so task routes resolve); null: anonymously. */
async function runOf(p: Platform, token: string | null, name: string): Promise<{ id: string; taskId: number; name: string }> {
  const trace = await readFile(path.join(fixtures, 'trace-raw-all.txt'));
  const r = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/trace?name=${name}`,
    payload: trace,
    headers: { 'content-type': 'text/plain', ...(token ? auth(token) : {}) },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
  const id = r.json().run.id as string;
  const tasks = (await p.app.inject({ url: `/api/v1/runs/${id}/tasks?limit=1`, headers: token ? auth(token) : {} })).json();
  return { id, taskId: tasks.items[0].task_id, name };
}

/** Two labs, each with a token holding the default scopes. */
async function twoLabs(p: Platform) {
  await admin(p, 'POST', '/api/v1/projects', { id: 'lab-a', name: 'Lab A' });
  await admin(p, 'POST', '/api/v1/projects', { id: 'lab-b', name: 'Lab B' });
  return { alice: await mint(p, 'alice', { project: 'lab-a' }), bob: await mint(p, 'bob', { project: 'lab-b' }) };
}

interface Op {
  method: 'GET' | 'POST' | 'DELETE';
  route: string;
  scope: string;
  /** The query that selects a representation (CSV, SSE), or ''. */
  query: string;
  sse: boolean;
}

/** How a route is asked for each of its other representations. */
const VARIANT_QUERY: Record<string, string> = { 'text/csv': 'format=csv', 'text/event-stream': 'follow=true' };

/** Every operation and representation of the document, with the scope it declares. */
function operations(doc: {
  paths: Record<string, Record<string, { 'x-scope': string; responses: Record<string, { content?: object }> }>>;
}): Op[] {
  return Object.entries(doc.paths).flatMap(([route, ops]) =>
    Object.entries(ops).flatMap(([m, op]) => {
      const types = Object.keys(op.responses['200']?.content ?? {});
      const base = { method: m.toUpperCase() as Op['method'], route, scope: op['x-scope'] };
      const only = types.length === 1 && types[0] === 'text/event-stream';
      const variants = types.length > 1 ? types.filter((c) => VARIANT_QUERY[c]) : [];
      return [
        { ...base, query: '', sse: only },
        ...variants.map((c) => ({ ...base, query: VARIANT_QUERY[c]!, sse: c === 'text/event-stream' })),
      ];
    }),
  );
}

const opName = (op: Op) => `${op.method} ${op.route}${op.query ? `?${op.query}` : ''}`;
const runScoped = (op: Op) => op.route.startsWith('/api/v1/runs/{id}') || op.route.startsWith('/ga4gh/wes/v1/runs/{run_id}');
/** Native errors are {statusCode, message}; GA4GH WES ones (under /ga4gh/) {status_code, msg}. */
const messageOf = (body: string) => {
  const b = JSON.parse(body) as { message?: string; msg?: string };
  return b.message ?? b.msg;
};

interface Ids {
  run: { id: string; taskId: number };
  token: string;
}

function urlOf(op: Op, ids: Ids): string {
  const id = runScoped(op) ? ids.run.id : ids.token;
  const url = op.route
    .replace(/\{(id|run_id)\}/, id)
    .replace(/\{(taskId|task_id)\}/, String(ids.run.taskId))
    .replace('{*}', 'results/missing.txt');
  return op.query ? `${url}?${op.query}` : url;
}

/** Status and body text; an SSE stream is read until its first event or end, then dropped. */
async function call(p: Platform, base: string, op: Op, ids: Ids, token?: string): Promise<{ status: number; body: string }> {
  const url = urlOf(op, ids);
  const trace = url.includes('/trace');
  const headers: Record<string, string> = {
    ...(token ? auth(token) : {}),
    ...(op.method === 'POST' ? { 'content-type': trace ? 'text/plain' : 'application/json' } : {}),
  };
  const payload = op.method === 'POST' ? (trace ? 'task_id\thash\n' : '{}') : undefined;
  if (!op.sse) {
    const r = await p.app.inject({ method: op.method, url, headers, payload });
    return { status: r.statusCode, body: r.body };
  }
  const ac = new AbortController();
  const r = await fetch(`${base}${url}`, { headers, signal: ac.signal });
  let body = '';
  const reader = r.body!.getReader();
  const timer = setTimeout(() => ac.abort(), 1500);
  try {
    for (let i = 0; i < 20 && !/\n\n(event|data)/.test(body); i++) {
      const { done, value } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
  } catch {
    // aborted: a live stream that had nothing more to say
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { status: r.status, body };
}

t.test('the matrix: every operation x {no token, without the scope, another project, the right token}', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, nextflowBin: '/bin/true' });
  const { alice, bob } = await twoLabs(p);
  // Tokens of alice's project, each lacking one scope a route may need.
  const lacking: Record<string, string> = {
    'runs:read': await mint(p, 'alice-events-only', { project: 'lab-a', scopes: ['events:write'] }),
    'runs:write': await mint(p, 'alice-read-only', { project: 'lab-a', scopes: ['runs:read'] }),
    'events:write': await mint(p, 'alice-reader', { project: 'lab-a', scopes: ['runs:read', 'runs:write'] }),
    admin: alice,
  };
  const run = await runOf(p, alice, 'alice-secret-run');
  await runOf(p, bob, 'bob-run');
  const victim = (await admin(p, 'POST', '/api/v1/tokens', { name: 'to-revoke', project: 'lab-a' })).id as string;
  const ids: Ids = { run, token: victim };
  await p.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;

  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  const ops = operations(doc);
  t.ok(ops.length >= 35, `${ops.length} operations and representations in the document`);
  t.same(
    new Set(ops.map((o) => o.scope)),
    new Set(['none', 'runs:read', 'runs:write', 'events:write', 'admin']),
    'every operation declares its scope',
  );
  for (const kind of ['format=csv', 'follow=true'])
    t.ok(
      ops.some((o) => o.query === kind),
      `a ${kind} representation is walked`,
    );
  t.ok(
    ops.some((o) => o.route.endsWith('/cells')),
    'the Arrow routes are walked',
  );
  t.ok(
    ops.some((o) => o.route === '/api/v1/stream/runs' && o.sse),
    'the run-change stream is walked',
  );

  const leaks = (body: string) => body.includes(run.id) || body.includes(run.name);
  const counts = { anonymous: 0, lacking: 0, foreign: 0, right: 0 };
  for (const op of ops) {
    const name = opName(op);
    if (op.scope !== 'none') {
      const anon = await call(p, base, op, ids);
      t.equal(anon.status, 401, `${name} without a token`);
      counts.anonymous++;
      const without = await call(p, base, op, ids, lacking[op.scope]);
      t.equal(without.status, 403, `${name} with a token lacking ${op.scope}`);
      t.match(without.body, op.scope, 'the refusal names the missing scope');
      counts.lacking++;
    }
    const foreign = await call(p, base, op, ids, bob);
    t.notOk(leaks(foreign.body), `${name} with another project's token shows nothing of the run`);
    if (runScoped(op)) {
      t.equal(foreign.status, 404, `${name} with another project's token`);
      t.equal(messageOf(foreign.body), 'run not found');
    } else if (op.scope === 'admin') t.equal(foreign.status, 403, `${name}: another project's non-admin token`);
    counts.foreign++;
    for (const who of op.scope === 'admin' ? [ADMIN] : [alice, ADMIN]) {
      const own = await call(p, base, op, ids, who);
      t.notOk([401, 403].includes(own.status), `${name} as ${who === ADMIN ? 'admin' : 'the project'}: ${own.status}`);
      if (own.status === 404 && runScoped(op)) t.not(messageOf(own.body), 'run not found', `${name}: the run is found`);
      counts.right++;
    }
  }
  t.ok(counts.anonymous >= 30 && counts.lacking >= 30 && counts.foreign >= 35, JSON.stringify(counts));

  // Lists show a project's token its project's runs only (the walk above added trace runs); an admin every project's.
  const list = async (token: string) =>
    (await p.app.inject({ url: '/api/v1/runs?limit=500', headers: auth(token) }))
      .json()
      .items.map((r: { name: string; project: string }) => `${r.project}/${r.name}`);
  for (const [who, project] of [
    [alice, 'lab-a'],
    [lacking['runs:write']!, 'lab-a'],
    [bob, 'lab-b'],
  ] as const) {
    const names = await list(who);
    t.ok(names.length > 1, `${project}: ${names.length} runs listed`);
    t.ok(
      names.every((n: string) => n.startsWith(`${project}/`)),
      `a ${project} token lists ${project} runs only`,
    );
    t.equal(names.includes('lab-a/alice-secret-run'), project === 'lab-a');
  }
  const all = await list(ADMIN);
  t.ok(all.includes('lab-a/alice-secret-run') && all.includes('lab-b/bob-run'), 'an admin lists every project');
  const cancel = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/cancel`, headers: auth(bob) });
  t.equal(cancel.statusCode, 404, 'cancel from another project is refused as if there were no run');
});

t.test('tokens: created with a project and scopes, listed without secrets, revoked at once', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  await admin(p, 'POST', '/api/v1/projects', { id: 'lab-a' });
  const dup = await p.app.inject({ method: 'POST', url: '/api/v1/projects', payload: { id: 'lab-a' }, headers: auth(ADMIN) });
  t.equal(dup.statusCode, 409, 'a project id is taken once');
  const noProject = await p.app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    payload: { name: 'x', project: 'nope' },
    headers: auth(ADMIN),
  });
  t.equal(noProject.statusCode, 400);
  t.equal(noProject.json().field, 'project');
  const created = await admin(p, 'POST', '/api/v1/tokens', { name: 'lims', project: 'lab-a', scopes: ['runs:read'] });
  t.match(created, { name: 'lims', project: 'lab-a', scopes: ['runs:read'], admin: false, revokedAt: null });
  t.type(created.token, 'string');
  const listed = (await p.app.inject({ url: '/api/v1/tokens?project=lab-a', headers: auth(ADMIN) })).json().items;
  t.same(
    listed.map((x: { id: string }) => x.id),
    [created.id],
  );
  t.notOk(JSON.stringify(listed).includes(created.token), 'the secret is shown once, never listed');
  const projects = (await p.app.inject({ url: '/api/v1/projects', headers: auth(ADMIN) })).json().items.map((x: { id: string }) => x.id);
  t.same(projects, ['default', 'lab-a']);
  const who = (await p.app.inject({ url: '/api/v1/session', headers: auth(created.token) })).json();
  t.match(who, { authRequired: true, signedIn: true, project: 'lab-a', scopes: ['runs:read'], admin: false });
  // Used once (so the Authenticator caches it), then revoked: the very next request is refused.
  t.equal((await p.app.inject({ url: '/api/v1/runs', headers: auth(created.token) })).statusCode, 200);
  t.equal((await p.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${created.id}`, headers: auth(ADMIN) })).statusCode, 204);
  t.equal((await p.app.inject({ url: '/api/v1/runs', headers: auth(created.token) })).statusCode, 401, 'a revoked token stops at once');
  const after = (await p.app.inject({ url: '/api/v1/tokens', headers: auth(ADMIN) })).json().items;
  t.type(after.find((x: { id: string }) => x.id === created.id).revokedAt, 'string', 'the list says when it was revoked');
  const again = await p.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${crypto.randomUUID()}`, headers: auth(ADMIN) });
  t.equal(again.statusCode, 404);
});

t.test('a browser signs in with a token and gets a cookie that the same rules apply to', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const { alice, bob } = await twoLabs(p);
  const run = await runOf(p, alice, 'alice-run');
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
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: a })).statusCode, 200, 'its project reads by cookie');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: b })).statusCode, 404, 'another project does not');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${run.id}`, cookies: { scrna_token: 'forged' } })).statusCode, 401);
  const out = await p.app.inject({ method: 'DELETE', url: '/api/v1/session', cookies: a });
  t.equal(out.statusCode, 204);
  t.match(String(out.headers['set-cookie']), /scrna_token=;/, 'the cookie is cleared');
});

t.test('an open install: anonymous callers reach everything, a token that is sent is held to its project', async (t) => {
  const p = await platformFor(t, { requireAuth: false, adminToken: ADMIN });
  const { alice, bob } = await twoLabs(p);
  const run = await runOf(p, alice, 'alice-run');
  await runOf(p, null, 'anonymous-run');
  const listed = (await p.app.inject({ url: '/api/v1/runs' }))
    .json()
    .items.map((r: { name: string; project: string }) => `${r.project}/${r.name}`);
  t.same(listed.sort(), ['default/anonymous-run', 'lab-a/alice-run'], "anonymous lists every project's runs, its own in default");
  t.equal(
    (await p.app.inject({ url: `/api/v1/runs/${run.id}`, headers: auth(bob) })).statusCode,
    404,
    "bob's token still cannot read lab-a's run",
  );
  const session = (await p.app.inject({ url: '/api/v1/session' })).json();
  t.match(session, { authRequired: false, signedIn: false, project: 'default' });
});

t.test('open routes stay open with auth required', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  for (const url of ['/healthz', '/readyz', '/api/v1/openapi.json']) t.equal((await p.app.inject({ url })).statusCode, 200, url);
  t.equal((await p.app.inject({ url: '/docs/' })).statusCode, 200, 'Swagger UI');
});

t.test('events cannot move a run they do not belong to', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const { alice, bob } = await twoLabs(p);
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
  t.equal(aliceRuns[0].project, 'lab-a', "a head node's run lands in the project of the token it reports with");
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

t.test("the run-change stream tells a token only of its project's runs", async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN });
  const { alice, bob } = await twoLabs(p);
  const aliceRun = await runOf(p, alice, 'alice-run');
  const bobRun = await runOf(p, bob, 'bob-run');
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
