// The deployed environment boots: the CDK app is synthesized, the API container's environment and secret names
// are taken from the template, and the real API server is started with exactly those names (values: the literal
// ones as synthesized, the resource references resolved to the same resources in moto, the secrets from the test
// Postgres) until /readyz answers 200. A name the stack sets that the API does not read, or the reverse, keeps it
// from starting.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import t from 'tap';
import { freshDatabase } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';
import { fakeCredentials } from '../infra/moto.js';
import { synthesize } from '../infra/platform.js';
import { motoPlatform, names } from './aws.js';

const moto = await motoPlatform(t);
const { platform, outdir } = synthesize();
t.teardown(() => rm(outdir, { recursive: true, force: true }));
const resources = Template.fromStack(platform.api).toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const container = Object.values(resources)
  .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
  .flatMap(
    (r) =>
      r.Properties.ContainerDefinitions as {
        Name: string;
        Environment: { Name: string; Value: unknown }[];
        Secrets: { Name: string; ValueFrom: unknown }[];
      }[],
  )
  .find((c) => c.Name === 'api')!;

/** A reference to another stack's resource (an import) -> the moto resource of the same role. */
function resolveRef(name: string, value: unknown): string {
  const ref = JSON.stringify(value);
  const roles: [RegExp, string][] = [
    [/HeadQueue/, names.headQueue],
    [/TaskQueue/, names.taskQueue],
    [/HeadJob/, names.headJobDefinition],
    [/JobLogs/, names.logGroup],
    [/Raw/, names.rawBucket],
    [/Work/, names.workBucket],
    [/Results/, names.resultsBucket],
  ];
  const hit = roles.find(([re]) => re.test(ref));
  if (!hit) throw new Error(`${name}: no moto resource for ${ref}`);
  return hit[1];
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function deployedEnv(): Promise<{ env: Record<string, string>; port: number; dataDir: string }> {
  const db = new URL((await freshDatabase('boot')).url);
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'scrna-boot-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  // Where this machine differs from a Fargate task: listen on loopback, a writable data dir, no TLS to the test server.
  const local: Record<string, string> = { PORT: String(port), HOST: '127.0.0.1', SCRNA_DATA_DIR: dataDir, PGSSLMODE: 'disable' };
  const env: Record<string, string> = {};
  for (const { Name, Value } of container.Environment)
    env[Name] = local[Name] ?? (typeof Value === 'string' ? Value : resolveRef(Name, Value));
  const secretOf: Record<string, string> = {
    host: db.hostname,
    port: db.port || '5432',
    username: decodeURIComponent(db.username),
    password: decodeURIComponent(db.password),
    dbname: db.pathname.slice(1),
  };
  for (const { Name, ValueFrom } of container.Secrets) {
    const key = /:(host|port|username|password|dbname)::/.exec(JSON.stringify(ValueFrom))?.[1];
    env[Name] = key ? secretOf[key]! : randomBytes(24).toString('hex');
  }
  return { env, port, dataDir };
}

/** Starts the API server as the container does, with `env` and only what a process needs besides (PATH, AWS credentials and endpoint). */
async function boot(env: Record<string, string>, port: number): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      ...env,
      // On AWS the task role's credentials and the service endpoints; here moto.
      AWS_ENDPOINT_URL: moto.url,
      AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (let i = 0; i < 300 && child.exitCode === null; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      if (r) return { status: r.status, stderr };
      await new Promise((res) => setTimeout(res, 100));
    }
    return { status: null, stderr };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

t.test('the API starts with exactly the environment the ApiStack gives it and is ready', async (t) => {
  const { env, port } = await deployedEnv();
  t.match(env, { SCRNA_LAUNCHER: 'awsbatch', SCRNA_RESULT_STORE: 's3', SCRNA_LOG_SOURCE: 'cloudwatch' });
  const r = await boot(env, port);
  t.equal(r.status, 200, r.stderr);
});

t.test('a name the stack sets under another name than the API reads keeps it from starting', async (t) => {
  const { env, port } = await deployedEnv();
  const { SCRNA_RESULTS_BUCKET: bucket, ...rest } = env;
  t.ok(bucket, 'the stack sets the results bucket');
  const r = await boot({ ...rest, SCRNA_RESULT_BUCKET: bucket! }, port);
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
  ])
    t.ok(allows(api, call), `API task role: ${call}`);
  const head = actionsOf(platform.batch, /^HeadJobRoleDefaultPolicy/);
  for (const call of ['batch:SubmitJob', 'batch:DescribeJobs', 'batch:TerminateJob', 'logs:GetLogEvents', 's3:GetObject', 's3:PutObject'])
    t.ok(allows(head, call), `head job role: ${call}`);
});
