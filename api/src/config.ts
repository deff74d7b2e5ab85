// Configuration from the environment (names fixed in the shared contracts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Config {
  port: number;
  host: string;
  /** Connection string, or null to start the embedded server. */
  databaseUrl: string | null;
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
  /** `bucket` or `s3://bucket/prefix` entries that s3:// inputs may name (none by default). */
  s3Buckets: string[];
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

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  const v = (value ?? dflt) as T;
  if (!allowed.includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')} (got ${value})`);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  const host = env.HOST ?? '127.0.0.1';
  const cache = env.SCRNA_CACHE ?? path.join(repoRoot, '.cache');
  return {
    port,
    host,
    databaseUrl: env.DATABASE_URL || pgEnvUrl(env),
    dataDir: path.resolve(env.SCRNA_DATA_DIR ?? path.join(cache, 'platform')),
    launcher: oneOf('SCRNA_LAUNCHER', env.SCRNA_LAUNCHER, ['local', 'awsbatch'], 'local'),
    resultStore: oneOf('SCRNA_RESULT_STORE', env.SCRNA_RESULT_STORE, ['fs', 's3'], 'fs'),
    logSource: oneOf('SCRNA_LOG_SOURCE', env.SCRNA_LOG_SOURCE, ['file', 'cloudwatch'], 'file'),
    publicUrl: env.SCRNA_PUBLIC_URL ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    adminToken: env.SCRNA_ADMIN_TOKEN || null,
    requireAuth: env.SCRNA_REQUIRE_AUTH === '1' || env.SCRNA_REQUIRE_AUTH === 'true',
    pipeline: env.SCRNA_PIPELINE ?? repoRoot,
    workflowsDir: env.SCRNA_WORKFLOWS_DIR ?? path.join(repoRoot, 'workflows'),
    platformConfig: env.SCRNA_PLATFORM_CONFIG ?? path.join(repoRoot, 'workflows/conf/platform.config'),
    uiBuildDir: env.SCRNA_UI_BUILD ?? path.join(repoRoot, 'ui/build'),
    nextflowBin: env.SCRNA_NEXTFLOW ?? path.join(repoRoot, 'scripts/nextflow/nextflow'),
    logLevel: env.LOG_LEVEL ?? 'info',
    dataRoots: pathList(env.SCRNA_DATA_ROOTS),
    s3Buckets: s3List(env.SCRNA_S3_BUCKETS),
  };
}
