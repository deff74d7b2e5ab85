// The database login survives rotation. On a password-checking Postgres (the embedded server: the shared test server
// trusts loopback, so passwords would prove nothing), `scrna migrate` with the migration task's synthesized
// environment creates the application role from its secret and migrates as it; the API then starts with the service's
// synthesized environment and logs in as that role, not the master. While it runs, the role's password is changed in
// Postgres and in the (moto) secret and its connections are terminated: requests keep succeeding, on new connections
// made with the new password.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import t from 'tap';
import { startEmbedded } from '../../api/src/db/connect.js';
import { synthesize } from '../infra/platform.js';
import { motoPlatform } from './aws.js';
import { containerOf, databaseSecrets, deployedEnv, loginOf, runCli, secretsClient, startApi } from './deployed.js';

const moto = await motoPlatform(t);
const { platform, outdir } = synthesize();
t.teardown(() => rm(outdir, { recursive: true, force: true }));

const dir = await mkdtemp(path.join(tmpdir(), 'scrna-rotation-'));
// As root the embedded server runs as a `postgres` system user, which must be able to create its data dir in here.
await chmod(dir, 0o777);
const server = await startEmbedded(dir);
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const superuser = new pg.Client({ connectionString: server.url });
await superuser.connect();
t.teardown(() => superuser.end());
await superuser.query('CREATE DATABASE scrna');
const master = { ...loginOf(server.url), dbname: 'scrna' };
const app = { ...master, username: 'scrna_app', password: 'first-password-1' };
const arns = await databaseSecrets(t, moto.url, { app, master });

const backendsOf = async (user: string) =>
  (await superuser.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = $1 AND datname = 'scrna'", [user])).rows.map(
    (r) => r.pid,
  );
const loginWorks = (password: string) => {
  const c = new pg.Client({ ...app, user: app.username, database: app.dbname, password });
  return c.connect().then(
    () => c.end().then(() => true),
    () => false,
  );
};

t.test('scrna migrate (the migration task) creates the application role and the schema it owns', async (t) => {
  const deployed = await deployedEnv(t, containerOf(platform, 'migrate'), arns);
  const r = await runCli(deployed, moto.url, ['migrate', '--json']);
  t.equal(r.code, 0, r.code === 0 ? 'exits 0' : r.stderr);
  const out = JSON.parse(r.stdout) as { migrations: number; latest: string; roleCreated: string | null };
  t.equal(out.roleCreated, 'scrna_app');
  t.ok(out.migrations >= 3, `${out.migrations} migrations applied`);
  const inScrna = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, '/scrna') });
  await inScrna.connect();
  const owners = await inScrna.query<{ tableowner: string }>("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
  await inScrna.end();
  t.same(
    owners.rows.map((r) => r.tableowner),
    ['scrna_app'],
    'every table is owned by the application role, none by the master',
  );
  const again = await runCli(deployed, moto.url, ['migrate', '--json']);
  t.equal(again.code, 0, again.code === 0 ? 'exits 0' : again.stderr);
  t.equal((JSON.parse(again.stdout) as { roleCreated: string | null }).roleCreated, null, 'a second run changes nothing');
});

t.test('the API logs in as the application role and reconnects after the password is rotated under it', async (t) => {
  const deployed = await deployedEnv(t, containerOf(platform, 'api'), arns);
  const api = await startApi(t, deployed, moto.url);
  t.equal(api.status, 200, api.status === 200 ? 'ready' : api.stderr());
  const token = deployed.secrets.SCRNA_ADMIN_TOKEN!;
  const get = (p: string, auth = true) =>
    fetch(`http://127.0.0.1:${deployed.port}${p}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
  t.equal((await get('/api/v1/runs', false)).status, 401, 'auth is on: no token, no runs');
  t.equal((await get('/api/v1/runs')).status, 200);
  const before = await backendsOf('scrna_app');
  t.ok(before.length > 0, 'the API is connected as scrna_app');
  t.same(await backendsOf(master.username), [], 'and not as the master');

  // Rotation: a new password in Postgres and in the secret, then every existing connection of the role dropped.
  await superuser.query("ALTER ROLE scrna_app PASSWORD 'second-password-2'");
  const sm = secretsClient(moto.url);
  t.teardown(() => sm.destroy());
  await sm.send(new PutSecretValueCommand({ SecretId: arns.app, SecretString: JSON.stringify({ ...app, password: 'second-password-2' }) }));
  await superuser.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'scrna_app'");
  t.notOk(await loginWorks('first-password-1'), 'the old password is refused now');

  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await get('/api/v1/runs')).status);
  t.same(statuses, [200, 200, 200, 200, 200], 'requests keep succeeding');
  const after = await backendsOf('scrna_app');
  t.ok(after.length > 0, 'connected again as scrna_app');
  t.notOk(
    after.some((p) => before.includes(p)),
    'on new connections (made with the new password)',
  );
});
