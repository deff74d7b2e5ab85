// The environment the deployed API reads on AWS: one list of names that config.ts reads and the CDK ApiStack sets
// (infra/src/stacks/api.ts imports it), so the two cannot drift apart.
export const AWS_ENV = {
  launcher: 'SCRNA_LAUNCHER',
  resultStore: 'SCRNA_RESULT_STORE',
  logSource: 'SCRNA_LOG_SOURCE',
  region: 'AWS_REGION',
  headQueue: 'SCRNA_BATCH_HEAD_QUEUE',
  taskQueue: 'SCRNA_BATCH_TASK_QUEUE',
  headJobDefinition: 'SCRNA_BATCH_HEAD_JOB_DEFINITION',
  logGroup: 'SCRNA_BATCH_LOG_GROUP',
  rawBucket: 'SCRNA_RAW_BUCKET',
  workBucket: 'SCRNA_WORK_BUCKET',
  resultsBucket: 'SCRNA_RESULTS_BUCKET',
  publicUrl: 'SCRNA_PUBLIC_URL',
} as const;

/** The values of the three adapter choices on AWS. */
export const AWS_CHOICES = { launcher: 'awsbatch', resultStore: 's3', logSource: 'cloudwatch' } as const;

/** Optional tuning the stacks leave at their defaults (api/README.md). */
export const AWS_TUNING_ENV = {
  batchPollSeconds: 'SCRNA_BATCH_POLL_SECONDS',
  batchGraceSeconds: 'SCRNA_BATCH_GRACE_SECONDS',
  headTimeoutSeconds: 'SCRNA_BATCH_HEAD_TIMEOUT_SECONDS',
  logPollMs: 'SCRNA_LOG_POLL_MS',
} as const;

/**
 * Deployed-only settings the ApiStack sets next to AWS_ENV: tokens are required on every route, and the database
 * is reached with credentials read from a Secrets Manager secret (RDS JSON: host, port, username, password, dbname)
 * over TLS verified against a CA bundle file in the image.
 */
export const DEPLOYED_ENV = {
  requireAuth: 'SCRNA_REQUIRE_AUTH',
  databaseSecret: 'SCRNA_DATABASE_SECRET',
  /** Migration task only: the master secret, used once to create the application role (scrna migrate). */
  databaseMasterSecret: 'SCRNA_DATABASE_MASTER_SECRET',
  databaseCaBundle: 'SCRNA_DATABASE_CA_BUNDLE',
} as const;
