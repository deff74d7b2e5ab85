// The OpenAPI document says what the server does about methods and credentials: a method a path does not declare
// is a 405 with Allow (the same on every path, including routes added later), and each operation's `security`
// follows the access its route declares and this install's configuration. Schemathesis (schemathesis.test.ts)
// checks the rest against the live document.
import t from 'tap';
import { platformFor } from './helpers.js';

t.test('undeclared methods: 405 with the Allow header of that path', async (t) => {
  const p = await platformFor(t);
  const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
  const id = crypto.randomUUID();
  let checked = 0;
  for (const [route, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    const declared = Object.keys(ops).map((m) => m.toUpperCase());
    const url = route.replace('{id}', id).replace('{taskId}', '1').replace('{*}', 'a/b.txt');
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY', 'POST', 'GET'].filter((m) => !declared.includes(m))) {
      const r = await p.app.inject({ method: method as 'PUT', url, headers: { 'content-type': 'application/json' }, payload: '{}' });
      t.equal(r.statusCode, 405, `${method} ${route}`);
      const allow = String(r.headers.allow).split(', ');
      for (const m of declared) t.ok(allow.includes(m), `${method} ${route}: Allow names ${m}`);
      if (declared.includes('GET')) t.ok(allow.includes('HEAD'), `${route}: HEAD comes with GET`);
      t.equal(r.json().field, 'method');
      checked++;
    }
  }
  t.ok(checked > 100, `${checked} undeclared method/path pairs`);
  t.equal((await p.app.inject({ method: 'PUT', url: '/api/v1/no-such-thing' })).statusCode, 404, 'a path that does not exist stays 404');
});

t.test('security: what each operation really asks for', async (t) => {
  const securityOf = async (overrides: object) => {
    const p = await platformFor(t, overrides);
    const doc = (await p.app.inject({ url: '/api/v1/openapi.json' })).json();
    return (route: string, method: string) => doc.paths[route][method].security;
  };
  const open = await securityOf({});
  t.same(open('/api/v1/runs', 'get'), [{ bearer: [] }, {}], 'open install: reads take a token or none');
  t.same(open('/api/v1/tokens', 'post'), [{ bearer: [] }, {}], 'open install without an admin token: anyone mints tokens');
  t.same(open('/api/v1/events', 'post'), [{ bearer: [] }, { basic: [] }], 'events always need a token');
  t.same(open('/api/v1/session', 'post'), [], 'signing in needs no token');
  const closed = await securityOf({ requireAuth: true, adminToken: 'admin-token-for-this-test' });
  t.same(closed('/api/v1/runs', 'get'), [{ bearer: [] }], 'auth required: a token');
  t.same(closed('/api/v1/tokens', 'post'), [{ bearer: [] }]);
  t.same(closed('/api/v1/session', 'delete'), []);
});
