// The one place adapters are chosen from configuration: embedded or server Postgres, local or Batch launcher,
// local or S3 results, file or CloudWatch logs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { FileLogSource } from './adapters/file-logs.js';
import { FsPathResolver } from './adapters/fs-paths.js';
import { FsResultStore } from './adapters/fs-results.js';
import { FsSchemaFiles } from './adapters/fs-schema-files.js';
import { kyselyRepositories } from './adapters/kysely/repositories.js';
import { LocalLauncher } from './adapters/local-launcher.js';
import { type Config, dataRootsOf } from './config.js';
import { connect, type EmbeddedServer, startEmbedded } from './db/connect.js';
import { migrate } from './db/migrations.js';
import { Authenticator } from './domain/auth.js';
import { DataRoots } from './domain/data-roots.js';
import { DomainError } from './domain/errors.js';
import { EventAccess } from './domain/event-access.js';
import { EventIngester } from './domain/event-ingester.js';
import { EventRecorder } from './domain/event-recorder.js';
import { RunNotifier } from './domain/notifier.js';
import { OutputService } from './domain/outputs.js';
import type { Launcher, LogSource, ResultStore } from './domain/ports.js';
import type { Repositories } from './domain/repositories.js';
import { ResultsService } from './domain/results.js';
import { RunService } from './domain/runs.js';
import { LaunchValidator } from './domain/validation.js';
import { type AppOptions, buildApp } from './http/app.js';

export interface Platform {
  app: FastifyInstance;
  repos: Repositories;
  runs: RunService;
  ingester: EventIngester;
  databaseUrl: string;
  close(): Promise<void>;
}

function notYet(what: string, env: string): never {
  throw new Error(`${env}: the ${what} adapter is not part of this build yet (use the local default)`);
}

function chooseLauncher(c: Config): Launcher {
  if (c.launcher === 'awsbatch') notYet('AWS Batch launcher', 'SCRNA_LAUNCHER=awsbatch');
  return new LocalLauncher(c.dataDir, c.nextflowBin, c.pipeline, existsSync(c.platformConfig) ? c.platformConfig : null);
}

function chooseResults(c: Config): ResultStore {
  if (c.resultStore === 's3') notYet('S3 result store', 'SCRNA_RESULT_STORE=s3');
  return new FsResultStore();
}

function chooseLogs(c: Config): LogSource {
  if (c.logSource === 'cloudwatch') notYet('CloudWatch log source', 'SCRNA_LOG_SOURCE=cloudwatch');
  return new FileLogSource();
}

const version = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

export async function createPlatform(config: Config, opts: AppOptions & { recover?: boolean } = {}): Promise<Platform> {
  let embedded: EmbeddedServer | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbedded(config.dataDir);
    url = embedded.url;
  }
  const conn = connect(url);
  await migrate(conn.db);
  const repos = kyselyRepositories(conn.db, conn.pool);
  const launcher = chooseLauncher(config);
  const files = chooseResults(config);
  const logs = chooseLogs(config);
  const notifier = new RunNotifier();
  const schemaFiles = new FsSchemaFiles(config.workflowsDir);
  const results = new ResultsService(repos, files, schemaFiles);
  let validatorP: Promise<LaunchValidator> | null = null;
  const validator = () => {
    validatorP ??= LaunchValidator.load(schemaFiles).catch((e) => {
      validatorP = null;
      throw new DomainError(
        'conflict',
        `the pipeline's parameter schemas are not installed (${path.join(config.workflowsDir, 'nextflow_schema.json')}): ${(e as Error).message}`,
      );
    });
    return validatorP;
  };
  let logRef: FastifyInstance['log'] | null = null;
  const log = {
    info: (o: object, m?: string) => logRef?.info(o, m),
    warn: (o: object, m?: string) => logRef?.warn(o, m),
    error: (o: object, m?: string) => logRef?.error(o, m),
  };
  const ingester = new EventIngester(new EventRecorder(repos), {
    onStored: (ids) => notifier.changed(...ids),
    onError: (err, evs) => log.error({ err, events: evs.length }, 'events could not be stored'),
  });
  const runs = new RunService({
    repos,
    launcher,
    files,
    results,
    notifier,
    validator,
    dataRoots: new DataRoots(new FsPathResolver(), dataRootsOf(config), config.s3Buckets, [path.join(config.dataDir, 'pg')]),
    publicUrl: config.publicUrl,
    log,
  });
  const app = await buildApp(
    {
      repos,
      runs,
      results,
      outputs: new OutputService(repos.results, files),
      ingester,
      auth: new Authenticator(repos, config.adminToken),
      eventAccess: new EventAccess(repos.runs),
      logs,
      notifier,
      validator,
      requireAuth: config.requireAuth,
      adminConfigured: !!config.adminToken,
      uiBuildDir: config.uiBuildDir,
      version,
    },
    opts,
  );
  logRef = app.log;
  if (opts.recover !== false) await runs.recover();
  return {
    app,
    repos,
    runs,
    ingester,
    databaseUrl: url,
    async close() {
      runs.close();
      (launcher as { close?: () => void }).close?.();
      await app.close();
      await ingester.drain();
      notifier.close();
      await conn.close();
      if (embedded) await embedded.stop();
    },
  };
}
