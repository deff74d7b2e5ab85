// The deployed environment boots: the CDK app is synthesized, the API container's environment is taken from the
// template, and the real API server is started with exactly those names (values: the literal ones as synthesized,
// the resource references resolved to the same resources in moto, the database login from a moto secret) until
// /readyz answers 200. A name the stack sets that the API does not read, or the reverse, keeps it from starting.
import { rm } from 'node:fs/promises';
import { Template } from 'aws-cdk-lib/assertions';
import t from 'tap';
import { freshDatabase } from '../helpers/db.js';
import { synthesize } from '../infra/platform.js';
import { motoPlatform } from './aws.js';
import { containerOf, databaseSecrets, deployedEnv, loginOf, startApi } from './deployed.js';

const moto = await motoPlatform(t);
const { platform, outdir } = synthesize();
t.teardown(() => rm(outdir, { recursive: true, force: true }));
const container = containerOf(platform, 'api');

/** The environment with its database login in a moto secret (the test server's own, which trusts loopback). */
async function environment() {
  const db = await freshDatabase('boot');
  t.teardown(() => db.drop());
  return deployedEnv(t, container, await databaseSecrets(t, moto.url, { app: loginOf(db.url) }));
}

async function boot(deployed: Awaited<ReturnType<typeof environment>>) {
  const api = await startApi(t, deployed, moto.url);
  await api.stop();
  return { status: api.status, stderr: api.stderr() };
}

t.test('the API starts with exactly the environment the ApiStack gives it and is ready', async (t) => {
  const deployed = await environment();
  t.match(deployed.env, { SCRNA_LAUNCHER: 'awsbatch', SCRNA_RESULT_STORE: 's3', SCRNA_LOG_SOURCE: 'cloudwatch', SCRNA_REQUIRE_AUTH: '1' });
  const r = await boot(deployed);
  t.equal(r.status, 200, r.status === 200 ? 'ready' : r.stderr);
});

t.test('a name the stack sets under another name than the API reads keeps it from starting', async (t) => {
  const deployed = await environment();
  const { SCRNA_RESULTS_BUCKET: bucket, ...rest } = deployed.env;
  t.ok(bucket, 'the stack sets the results bucket');
  const r = await boot({ ...deployed, env: { ...rest, SCRNA_RESULT_BUCKET: bucket! } });
  t.equal(r.status, null, 'never ready');
  t.match(r.stderr, /SCRNA_RESULTS_BUCKET is required/);
});

t.test('the roles allow the calls the AWS adapters and the head job make', async (t) => {
  const actionsOf = (stack: typeof platform.api | typeof platform.batch, role: RegExp) =>
    Object.entries(Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && role.test(id))
      .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement)
      .flatMap((s) => [s.Action].flat());
  // IAM matches actions with wildcards: s3:GetObject* covers GetObjectAttributes.
  const allows = (actions: string[], call: string) => actions.some((a) => new RegExp(`^${a.replaceAll('*', '.*')}$`).test(call));
  const api = actionsOf(platform.api, /^TaskRoleDefaultPolicy/);
  for (const call of [
    'batch:SubmitJob',
    'batch:TagResource',
    'batch:DescribeJobs',
    'batch:ListJobs',
    'batch:TerminateJob',
    'logs:GetLogEvents',
    's3:GetObject',
    's3:GetObjectAttributes',
    's3:PutObject',
    's3:ListBucket',
    'secretsmanager:GetSecretValue',
  ])
    t.ok(allows(api, call), `API task role: ${call}`);
  const head = actionsOf(platform.batch, /^HeadJobRoleDefaultPolicy/);
  for (const call of ['batch:SubmitJob', 'batch:DescribeJobs', 'batch:TerminateJob', 'logs:GetLogEvents', 's3:GetObject', 's3:PutObject'])
    t.ok(allows(head, call), `head job role: ${call}`);
});
