// Configuration from the environment (names fixed in the shared contracts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AWS_CHOICES, AWS_ENV, AWS_TUNING_ENV, DEPLOYED_ENV } from './aws-env.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Config {
  port: number;
  host: string;
  /** Connection string, or null to start the embedded server. */
  databaseUrl: string | null;
  /** Secrets Manager secret holding the database login (read per connection; wins over databaseUrl). */
  databaseSecret: string | null;
  /** CA bundle the database server's certificate must chain to (TLS verified); null leaves TLS to PGSSLMODE. */
  databaseCaBundle: string | null;
  dataDir: string;
  launcher: 'local' | 'awsbatch';
  resultStore: 'fs' | 's3';
  logSource: 'file' | 'cloudwatch';
  publicUrl: string;
  adminToken: string | null;
  /** Require an API token on every write route (events always need one). */
  requireAuth: boolean;
  /** The pipeline project launched by the platform (the repository root: nextflow.config points into workflows/). */
  pipeline: string;
  workflowsDir: string;
  /** Config file that enables the nf-scrna plugin for launched runs. */
  platformConfig: string;
  uiBuildDir: string;
  nextflowBin: string;
  logLevel: string;
  /** Where local paths in samplesheets and path params may point; null = the defaults of dataRootsOf. */
  dataRoots: string[] | null;
  /** `bucket` or `s3://bucket/prefix` entries that s3:// inputs may name (none by default; the raw bucket on AWS). */
  s3Buckets: string[];
  /** Settings of the AWS adapters; null when none is chosen. */
  aws: AwsConfig | null;
  webhooks: WebhookConfig;
}

export interface WebhookConfig {
  /** CIDR networks webhook targets may be on although not public (SCRNA_WEBHOOK_ALLOW_NETWORKS, comma-separated). */
  allowNetworks: string[];
  /** Back-off: the first retry after about baseMs, doubling up to maxMs, for windowMs after the event. */
  retryBaseMs: number;
  retryMaxMs: number;
  retryWindowMs: number;
  /** How often the outbox is checked for due deliveries. */
  pollMs: number;
}

export interface AwsConfig {
  region: string;
  /** Batch: where head jobs go and what they run (required with SCRNA_LAUNCHER=awsbatch). */
  headQueue: string | null;
  headJobDefinition: string | null;
  taskQueue: string | null;
  /** CloudWatch group of job logs when DescribeJobs names none (Batch's default). */
  logGroup: string;
  rawBucket: string | null;
  workBucket: string | null;
  resultsBucket: string | null;
  batchPollMs: number;
  batchGraceMs: number;
  headTimeoutSeconds: number;
  logPollMs: number;
}

function pgEnvUrl(env: NodeJS.ProcessEnv): string | null {
  if (!env.PGHOST) return null;
  const u = new URL('postgres://localhost');
  u.hostname = env.PGHOST;
  if (env.PGPORT) u.port = env.PGPORT;
  u.username = encodeURIComponent(env.PGUSER ?? 'postgres');
  if (env.PGPASSWORD) u.password = encodeURIComponent(env.PGPASSWORD);
  u.pathname = `/${env.PGDATABASE ?? 'postgres'}`;
  return u.toString();
}

/** A path-delimited list (`:` on POSIX); empty entries are dropped, relative ones resolved against the working directory. */
function pathList(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === '') return null;
  return value
    .split(path.delimiter)
    .filter((p) => p.trim() !== '')
    .map((p) => path.resolve(p.trim()));
}

const S3_ENTRY = /^(?:s3:\/\/)?[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/.*)?$/;

function s3List(value: string | undefined): string[] {
  const entries = (value ?? '').split(/[\s,]+/).filter(Boolean);
  for (const e of entries) if (!S3_ENTRY.test(e)) throw new Error(`SCRNA_S3_BUCKETS: '${e}' is not a bucket name or s3://bucket/prefix`);
  return entries;
}

/** The data roots in force: SCRNA_DATA_ROOTS, else the platform's data directory and the pipeline's bundled assets. */
export function dataRootsOf(c: Pick<Config, 'dataRoots' | 'dataDir' | 'workflowsDir'>): string[] {
  return c.dataRoots ?? [c.dataDir, path.join(c.workflowsDir, 'assets')];
}

function positive(name: string, value: string | undefined, dflt: number): number {
  if (value === undefined || value === '') return dflt;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${value})`);
  return n;
}

/** The AWS adapters' settings, refusing to start without a name one of the chosen adapters needs. */
function awsConfig(env: NodeJS.ProcessEnv, c: Pick<Config, 'launcher' | 'resultStore' | 'logSource'>): AwsConfig | null {
  const batch = c.launcher === AWS_CHOICES.launcher;
  if (!batch && c.resultStore !== AWS_CHOICES.resultStore && c.logSource !== AWS_CHOICES.logSource) return null;
  const need = (name: string, when: boolean): string | null => {
    const v = env[name]?.trim() || null;
    if (!v && when) throw new Error(`${name} is required with ${AWS_ENV.launcher}=${AWS_CHOICES.launcher}`);
    return v;
  };
  const region = env[AWS_ENV.region] || env.AWS_DEFAULT_REGION;
  if (!region) throw new Error(`${AWS_ENV.region} is required with the AWS adapters`);
  return {
    region,
    headQueue: need(AWS_ENV.headQueue, batch),
    headJobDefinition: need(AWS_ENV.headJobDefinition, batch),
    taskQueue: need(AWS_ENV.taskQueue, false),
    logGroup: env[AWS_ENV.logGroup]?.trim() || '/aws/batch/job',
    rawBucket: need(AWS_ENV.rawBucket, false),
    workBucket: need(AWS_ENV.workBucket, batch),
    resultsBucket: need(AWS_ENV.resultsBucket, batch),
    batchPollMs: 1000 * positive(AWS_TUNING_ENV.batchPollSeconds, env[AWS_TUNING_ENV.batchPollSeconds], 15),
    batchGraceMs: 1000 * positive(AWS_TUNING_ENV.batchGraceSeconds, env[AWS_TUNING_ENV.batchGraceSeconds], 300),
    headTimeoutSeconds: positive(AWS_TUNING_ENV.headTimeoutSeconds, env[AWS_TUNING_ENV.headTimeoutSeconds], 7 * 24 * 3600),
    logPollMs: positive(AWS_TUNING_ENV.logPollMs, env[AWS_TUNING_ENV.logPollMs], 1000),
  };
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  const v = (value ?? dflt) as T;
  if (!allowed.includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')} (got ${value})`);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  const host = env.HOST ?? '127.0.0.1';
  const cache = env.SCRNA_CACHE ?? path.join(repoRoot, '.cache');
  const launcher = oneOf(AWS_ENV.launcher, env[AWS_ENV.launcher], ['local', 'awsbatch'], 'local');
  const resultStore = oneOf(AWS_ENV.resultStore, env[AWS_ENV.resultStore], ['fs', 's3'], 'fs');
  const logSource = oneOf(AWS_ENV.logSource, env[AWS_ENV.logSource], ['file', 'cloudwatch'], 'file');
  const aws = awsConfig(env, { launcher, resultStore, logSource });
  return {
    port,
    host,
    databaseUrl: env.DATABASE_URL || pgEnvUrl(env),
    databaseSecret: env[DEPLOYED_ENV.databaseSecret]?.trim() || null,
    databaseCaBundle: env[DEPLOYED_ENV.databaseCaBundle]?.trim() || null,
    dataDir: path.resolve(env.SCRNA_DATA_DIR ?? path.join(cache, 'platform')),
    launcher,
    resultStore,
    logSource,
    publicUrl: env[AWS_ENV.publicUrl] ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    adminToken: env.SCRNA_ADMIN_TOKEN || null,
    requireAuth: env[DEPLOYED_ENV.requireAuth] === '1' || env[DEPLOYED_ENV.requireAuth] === 'true',
    pipeline: env.SCRNA_PIPELINE ?? repoRoot,
    workflowsDir: env.SCRNA_WORKFLOWS_DIR ?? path.join(repoRoot, 'workflows'),
    platformConfig: env.SCRNA_PLATFORM_CONFIG ?? path.join(repoRoot, 'workflows/conf/platform.config'),
    uiBuildDir: env.SCRNA_UI_BUILD ?? path.join(repoRoot, 'ui/build'),
    nextflowBin: env.SCRNA_NEXTFLOW ?? path.join(repoRoot, 'scripts/nextflow/nextflow'),
    logLevel: env.LOG_LEVEL ?? 'info',
    dataRoots: pathList(env.SCRNA_DATA_ROOTS),
    // Samplesheets the upload trigger launches name FASTQs in the raw bucket.
    s3Buckets: [...s3List(env.SCRNA_S3_BUCKETS), ...(aws?.rawBucket ? [aws.rawBucket] : [])],
    aws,
    webhooks: {
      allowNetworks: (env.SCRNA_WEBHOOK_ALLOW_NETWORKS ?? '').split(/[\s,]+/).filter(Boolean),
      retryBaseMs: positive('SCRNA_WEBHOOK_RETRY_BASE_MS', env.SCRNA_WEBHOOK_RETRY_BASE_MS, 5_000),
      retryMaxMs: positive('SCRNA_WEBHOOK_RETRY_MAX_MS', env.SCRNA_WEBHOOK_RETRY_MAX_MS, 3_600_000),
      // A day of retries at least, plus slack for an API that was down when the window began.
      retryWindowMs: 3_600_000 * positive('SCRNA_WEBHOOK_RETRY_HOURS', env.SCRNA_WEBHOOK_RETRY_HOURS, 26),
      pollMs: positive('SCRNA_WEBHOOK_POLL_MS', env.SCRNA_WEBHOOK_POLL_MS, 1_000),
    },
  };
}
