// `scrna projects`, `scrna tokens` and `scrna submit --idempotency-key` against a listening API that requires tokens.
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const scrna = path.join(repoRoot, 'api/bin/scrna.js');
const ADMIN = 'admin-token-for-the-cli-0123456789';

t.test('scrna tokens, projects and keyed submit', async (t) => {
  const p = await platformFor(t, { requireAuth: true, adminToken: ADMIN, nextflowBin: '/bin/true' });
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  const cli = async (token: string, ...args: string[]) => {
    const r = await run('node', [scrna, ...args], { env: { SCRNA_API_URL: url, SCRNA_API_TOKEN: token } });
    return { ...r, json: () => JSON.parse(r.stdout) };
  };

  const project = await cli(ADMIN, 'projects', 'create', 'lab-a', '--name', 'Lab A', '--json');
  t.equal(project.code, 0, project.stderr);
  t.match(project.json(), { id: 'lab-a', name: 'Lab A' });
  const created = await cli(ADMIN, 'tokens', 'create', 'lims', '--project', 'lab-a', '--scope', 'runs:read', '--scope', 'runs:write');
  t.equal(created.code, 0, created.stderr);
  const secret = /token \(shown once\): (\S+)/.exec(created.stdout)?.[1];
  t.ok(secret, 'the secret is printed once');
  const listed = await cli(ADMIN, 'tokens', 'list', '--project', 'lab-a', '--json');
  t.same(
    listed.json().items.map((x: { name: string; scopes: string[] }) => [x.name, x.scopes]),
    [['lims', ['runs:read', 'runs:write']]],
  );

  const submit = () => cli(secret!, 'submit', '--profile', 'test', '--name', 'keyed', '--idempotency-key', 'order-7', '--json');
  const first = await submit();
  t.equal(first.code, 0, first.stderr);
  t.equal(first.json().project, 'lab-a', "the run lands in the token's project");
  const again = await submit();
  t.equal(again.json().id, first.json().id, 'a retried submit with the key returns the first run');
  const other = await cli(secret!, 'submit', '--profile', 'test', '--name', 'other', '--idempotency-key', 'order-7');
  t.equal(other.code, 1);
  t.match(other.stderr, /422: Idempotency-Key 'order-7'/);

  const id = listed.json().items[0].id;
  t.equal((await cli(ADMIN, 'tokens', 'revoke', id)).code, 0);
  const refused = await cli(secret!, 'runs');
  t.equal(refused.code, 1);
  t.match(refused.stderr, /401/, 'the revoked token no longer works');
});
