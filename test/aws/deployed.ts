// The API (and its migration task) as the ApiStack deploys them: a container's environment is taken from the
// synthesized template (literal values as synthesized, references to other stacks resolved to the moto resources of
// the same role), and the real server or CLI is started with exactly that, plus what this machine needs instead of
// Fargate (loopback port, a writable data dir, no TLS to the test Postgres, moto for AWS).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Template } from 'aws-cdk-lib/assertions';
import type { Test } from 'tap';
import { DEPLOYED_ENV } from '../../api/src/aws-env.js';
import type { Platform } from '../../infra/src/app.js';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
import { fakeCredentials } from '../infra/moto.js';
import { names, region } from './aws.js';

export interface Container {
  Name: string;
  Environment: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
}

/** The container definition `name` ('api' or 'migrate') of the synthesized ApiStack. */
export function containerOf(platform: Platform, name: string): Container {
  const resources = Template.fromStack(platform.api).toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
    .flatMap((r) => r.Properties.ContainerDefinitions as Container[])
    .find((c) => c.Name === name)!;
}

/** A database login as the RDS secret holds it. */
export interface DbSecret {
  host: string;
  port: number;
  username: string;
  password: string;
  dbname: string;
}

export function loginOf(url: string, password = 'unused-by-trust-auth'): DbSecret {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password) || password,
    dbname: u.pathname.slice(1),
  };
}

export function secretsClient(motoUrl: string): SecretsManagerClient {
  return new SecretsManagerClient({ region, endpoint: motoUrl, credentials: fakeCredentials });
}

/** Creates the secrets the database stack would hold; returns their ARNs. */
export async function databaseSecrets(
  t: Test,
  motoUrl: string,
  logins: { app: DbSecret; master?: DbSecret },
): Promise<{ app: string; master: string | null }> {
  const sm = secretsClient(motoUrl);
  t.teardown(() => sm.destroy());
  const put = async (name: string, login: DbSecret) =>
    (await sm.send(new CreateSecretCommand({ Name: `${name}-${randomBytes(4).toString('hex')}`, SecretString: JSON.stringify(login) })))
      .ARN!;
  return { app: await put('scrna/database-app', logins.app), master: logins.master ? await put('scrna/database', logins.master) : null };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A reference to another stack's resource (an import) -> the moto resource of the same role. */
function resolveRef(name: string, value: unknown, secrets: { app: string; master: string | null }): string {
  const ref = JSON.stringify(value);
  const roles: [RegExp, string | null][] = [
    [/AppSecret/, secrets.app],
    [/database:ExportsOutputRefSecret/, secrets.master],
    [/HeadQueue/, names.headQueue],
    [/TaskQueue/, names.taskQueue],
    [/HeadJob/, names.headJobDefinition],
    [/JobLogs/, names.logGroup],
    [/Raw/, names.rawBucket],
    [/Work/, names.workBucket],
    [/Results/, names.resultsBucket],
  ];
  const hit = roles.find(([re]) => re.test(ref));
  if (!hit?.[1]) throw new Error(`${name}: no moto resource for ${ref}`);
  return hit[1];
}

export interface Deployed {
  env: Record<string, string>;
  port: number;
  /** The values of the container's ECS secrets (the admin token), by name. */
  secrets: Record<string, string>;
}

/**
 * The container's environment with references resolved. Where this machine differs from a Fargate task: listen on
 * loopback, a writable data dir, and no TLS to the test Postgres (it has no certificate), so no CA bundle either.
 */
export async function deployedEnv(t: Test, container: Container, secretArns: { app: string; master: string | null }): Promise<Deployed> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'scrna-boot-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const local: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    SCRNA_DATA_DIR: dataDir,
    PGSSLMODE: 'disable',
    [DEPLOYED_ENV.databaseCaBundle]: '',
  };
  const env: Record<string, string> = { PGSSLMODE: 'disable' };
  for (const { Name, Value } of container.Environment)
    env[Name] = local[Name] ?? (typeof Value === 'string' ? Value : resolveRef(Name, Value, secretArns));
  const secrets: Record<string, string> = {};
  for (const { Name } of container.Secrets ?? []) secrets[Name] = env[Name] = randomBytes(24).toString('hex');
  return { env, port, secrets };
}

/** What a process needs besides the container's environment: PATH, and moto in place of the task role and endpoints. */
function processEnv(env: Record<string, string>, motoUrl: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    ...env,
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey,
  };
}

export interface RunningApi {
  /** /readyz's status once it answered; null when the server exited (or never answered) first. */
  status: number | null;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts the API server as the container does and waits for /readyz; stopped by `stop` or the test's teardown. */
export async function startApi(t: Test, deployed: Deployed, motoUrl: string): Promise<RunningApi> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
    cwd: repoRoot,
    env: processEnv(deployed.env, motoUrl),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  t.teardown(stop);
  let status: number | null = null;
  for (let i = 0; i < 300 && child.exitCode === null && status === null; i++) {
    const r = await fetch(`http://127.0.0.1:${deployed.port}/readyz`).catch(() => null);
    if (r) status = r.status;
    else await new Promise((res) => setTimeout(res, 100));
  }
  return { status, stderr: () => stderr, stop };
}

/** Runs the API image's CLI (`scrna <args>`) with the container's environment, as the migration task does. */
export function runCli(deployed: Deployed, motoUrl: string, args: string[]) {
  return run(process.execPath, [path.join(repoRoot, 'api/bin/scrna.js'), ...args], {
    cwd: repoRoot,
    env: processEnv(deployed.env, motoUrl),
  });
}
