// The one place adapters are chosen from configuration: embedded or server Postgres, local or Batch launcher,
// local or S3 results, file or CloudWatch logs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FastifyInstance } from 'fastify';
import { type AwsClients, awsClients, closeClients } from './adapters/aws-clients.js';
import { BatchLauncher } from './adapters/batch-launcher.js';
import { CloudWatchLogSource } from './adapters/cloudwatch-logs.js';
import { FileLogSource } from './adapters/file-logs.js';
import { FsEventSpool } from './adapters/fs-event-spool.js';
import { FsPathResolver } from './adapters/fs-paths.js';
import { FsResultStore } from './adapters/fs-results.js';
import { FsSchemaFiles } from './adapters/fs-schema-files.js';
import { HttpWebhookTargets, networkList } from './adapters/http-webhooks.js';
import { kyselyRepositories } from './adapters/kysely/repositories.js';
import { LocalLauncher } from './adapters/local-launcher.js';
import { S3PathResolver } from './adapters/s3-paths.js';
import { S3ResultStore } from './adapters/s3-results.js';
import { SecretDbLogin } from './adapters/secret-db-login.js';
import { type Config, dataRootsOf } from './config.js';
import { connect, connectWithLogin, type Db, type EmbeddedServer, startEmbedded, tlsVerifiedBy } from './db/connect.js';
import { migrate } from './db/migrations.js';
import { Authenticator } from './domain/auth.js';
import { DataRoots } from './domain/data-roots.js';
import { DomainError } from './domain/errors.js';
import { EventAccess } from './domain/event-access.js';
import { EventIngester } from './domain/event-ingester.js';
import { EventRecorder } from './domain/event-recorder.js';
import { ExpressionService } from './domain/expression.js';
import { IdempotencyService } from './domain/idempotency.js';
import { RunNotifier } from './domain/notifier.js';
import { OutputService } from './domain/outputs.js';
import type { Launcher, LogSource, ResultStore } from './domain/ports.js';
import type { Repositories } from './domain/repositories.js';
import { ResultsService } from './domain/results.js';
import { RunService } from './domain/runs.js';
import { TokenService } from './domain/tokens.js';
import { LaunchValidator } from './domain/validation.js';
import { WebhookDispatcher, WebhookService } from './domain/webhooks.js';
import { type AppOptions, buildApp } from './http/app.js';

export interface Platform {
  app: FastifyInstance;
  repos: Repositories;
  runs: RunService;
  ingester: EventIngester;
  webhooks: WebhookDispatcher;
  databaseUrl: string;
  close(): Promise<void>;
}

type Log = { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };

function chooseLauncher(c: Config, aws: AwsClients | null, files: ResultStore, log: Log): Launcher {
  if (c.launcher === 'awsbatch' && aws && c.aws)
    return new BatchLauncher({
      batch: aws.batch,
      s3: aws.s3,
      // The head job's artefacts are on S3 whichever store serves results.
      files: files instanceof S3ResultStore ? files : new S3ResultStore(aws.s3),
      headQueue: c.aws.headQueue!,
      headJobDefinition: c.aws.headJobDefinition!,
      workBucket: c.aws.workBucket!,
      resultsBucket: c.aws.resultsBucket!,
      pollMs: c.aws.batchPollMs,
      graceMs: c.aws.batchGraceMs,
      timeoutSeconds: c.aws.headTimeoutSeconds,
      log,
    });
  return new LocalLauncher(c.dataDir, c.nextflowBin, c.pipeline, existsSync(c.platformConfig) ? c.platformConfig : null);
}

function chooseResults(c: Config, aws: AwsClients | null): ResultStore {
  return c.resultStore === 's3' && aws ? new S3ResultStore(aws.s3) : new FsResultStore();
}

function chooseLogs(c: Config, aws: AwsClients | null, log: Log): LogSource {
  if (c.logSource === 'cloudwatch' && aws && c.aws)
    return new CloudWatchLogSource({
      batch: aws.batch,
      logs: aws.logs,
      files: new S3ResultStore(aws.s3),
      defaultGroup: c.aws.logGroup,
      pollMs: c.aws.logPollMs,
      log,
    });
  return new FileLogSource();
}

const version = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

export interface OpenDatabase {
  conn: Db;
  /** The connection string, or `secret:<id>` when logins come from Secrets Manager. */
  url: string;
  close(): Promise<void>;
}

/** The database the configuration names: a login from Secrets Manager, a server URL, or the embedded server. */
export async function openDatabase(config: Config): Promise<OpenDatabase> {
  if (config.databaseSecret) {
    const secrets = new SecretsManagerClient(config.aws ? { region: config.aws.region } : {});
    const conn = connectWithLogin(new SecretDbLogin(secrets, config.databaseSecret), { ssl: tlsVerifiedBy(config.databaseCaBundle) });
    return {
      conn,
      url: `secret:${config.databaseSecret}`,
      close: async () => {
        await conn.close();
        secrets.destroy();
      },
    };
  }
  const embedded: EmbeddedServer | null = config.databaseUrl ? null : await startEmbedded(config.dataDir);
  const url = config.databaseUrl ?? embedded!.url;
  const conn = connect(url);
  return {
    conn,
    url,
    close: async () => {
      await conn.close();
      if (embedded) await embedded.stop();
    },
  };
}

export async function createPlatform(config: Config, opts: AppOptions & { recover?: boolean } = {}): Promise<Platform> {
  const database = await openDatabase(config);
  const { conn, url } = database;
  await migrate(conn.db);
  const repos = kyselyRepositories(conn.db, conn.pool);
  let logRef: FastifyInstance['log'] | null = null;
  const log = {
    info: (o: object, m?: string) => logRef?.info(o, m),
    warn: (o: object, m?: string) => logRef?.warn(o, m),
    error: (o: object, m?: string) => logRef?.error(o, m),
  };
  const aws = config.aws ? awsClients(config.aws.region) : null;
  const files = chooseResults(config, aws);
  const launcher = chooseLauncher(config, aws, files, log);
  const logs = chooseLogs(config, aws, log);
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
  const ingester = new EventIngester(new EventRecorder(repos), {
    onStored: (ids) => notifier.changed(...ids),
    onError: (err, evs) => log.error({ err, events: evs.length }, 'events could not be stored'),
    spool: await FsEventSpool.open(path.join(config.dataDir, 'event-spool')),
    ping: () => repos.ping(),
  });
  await ingester.recover();
  const runs = new RunService({
    repos,
    launcher,
    files,
    results,
    notifier,
    validator,
    dataRoots: new DataRoots(
      aws ? new S3PathResolver(new FsPathResolver(), aws.s3, new S3ResultStore(aws.s3)) : new FsPathResolver(),
      dataRootsOf(config),
      config.s3Buckets,
      [path.join(config.dataDir, 'pg')],
    ),
    publicUrl: config.publicUrl,
    log,
  });
  const targets = new HttpWebhookTargets(networkList(config.webhooks.allowNetworks));
  const dispatcher = new WebhookDispatcher(repos.webhooks, targets, {
    baseMs: config.webhooks.retryBaseMs,
    maxMs: config.webhooks.retryMaxMs,
    windowMs: config.webhooks.retryWindowMs,
    pollMs: config.webhooks.pollMs,
    batch: 20,
    log,
  });
  const auth = new Authenticator(repos, config.adminToken);
  const idempotency = new IdempotencyService(repos.idempotency);
  // Keys older than their time are refused by the claim anyway; this keeps the table small.
  const purge = setInterval(() => idempotency.purge().catch((err) => log.warn({ err }, 'idempotency key purge failed')), 3600_000).unref();
  const app = await buildApp(
    {
      repos,
      runs,
      results,
      outputs: new OutputService(repos.results, files),
      webhooks: new WebhookService(repos.webhooks, targets, () => void dispatcher.pass()),
      expression: new ExpressionService(repos.results, files),
      ingester,
      auth,
      tokens: new TokenService(repos, auth),
      idempotency,
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
  dispatcher.start();
  return {
    app,
    repos,
    runs,
    ingester,
    webhooks: dispatcher,
    databaseUrl: url,
    async close() {
      clearInterval(purge);
      runs.close();
      await dispatcher.close();
      (launcher as { close?: () => void }).close?.();
      await app.close();
      await ingester.close();
      notifier.close();
      if (aws) closeClients(aws);
      await database.close();
    },
  };
}
