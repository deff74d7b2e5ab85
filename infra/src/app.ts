// The platform as one CDK app: stacks, their dependencies, and the cdk-nag rule packs that check them.
import { App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import type { PlatformConfig } from './config.js';
import { SuppressionTable } from './nag.js';
import { ApiStack, internalApiUrl } from './stacks/api.js';
import { BatchStack } from './stacks/batch.js';
import { DatabaseStack } from './stacks/database.js';
import { NetworkStack } from './stacks/network.js';
import { ObservabilityStack } from './stacks/observability.js';
import { StorageStack } from './stacks/storage.js';
import { TriggersStack } from './stacks/triggers.js';

export interface Platform {
  app: App;
  network: NetworkStack;
  database: DatabaseStack;
  storage: StorageStack;
  batch: BatchStack;
  api: ApiStack;
  triggers: TriggersStack;
  observability: ObservabilityStack;
}

export const nagPacks = (app: App) => [new AwsSolutionsChecks(app, { verbose: true }), new HIPAASecurityChecks(app, { verbose: true })];

/** Builds every stack into `app`. With `nag`, synthesis fails on any unacknowledged cdk-nag finding. */
export function buildPlatform(config: PlatformConfig, app = new App(), opts: { nag?: boolean } = {}): Platform {
  // Set before any construct exists. Access logs are delivered by bucket policy, not the legacy LogDeliveryWrite ACL;
  // cross-stack references keep their producers (CloudFormation exports); and the availability zones come from the
  // config, so synthesis never looks anything up in the account.
  app.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
  app.node.setContext('@aws-cdk/core:defaultCrossStackReferences', 'strong');
  app.node.setContext(`availability-zones:account=${config.account}:region=${config.region}`, config.network.availabilityZones);
  const env: Environment = { account: config.account, region: config.region };
  const id = (s: string) => `${config.name}-${s}`;
  Tags.of(app).add('project', 'scrna-platform');
  Tags.of(app).add('scrna:deployment', config.name);

  const network = new NetworkStack(app, id('network'), config, { env, description: 'scrna-platform: VPC, endpoints, flow logs' });
  const storage = new StorageStack(app, id('storage'), config, { env, description: 'scrna-platform: raw, work and results buckets' });
  const database = new DatabaseStack(app, id('database'), config, { env, vpc: network.vpc, description: 'scrna-platform: PostgreSQL' });
  const apiUrl = internalApiUrl(config);
  const batch = new BatchStack(app, id('batch'), config, {
    env,
    description: 'scrna-platform: AWS Batch for Nextflow',
    vpc: network.vpc,
    raw: storage.raw,
    work: storage.work,
    results: storage.results,
    dataKey: storage.key,
    apiUrl,
    endpointSecurityGroup: network.endpointSecurityGroup,
  });
  const api = new ApiStack(app, id('api'), config, {
    env,
    description: 'scrna-platform: API and UI on ECS Fargate',
    vpc: network.vpc,
    database: database.instance,
    databaseSecret: database.secret,
    databaseAppSecret: database.appSecret,
    databaseKey: database.key,
    databaseClientSg: database.clientSecurityGroup,
    raw: storage.raw,
    work: storage.work,
    results: storage.results,
    accessLogs: storage.accessLogs,
    headQueue: batch.headQueue,
    taskQueue: batch.taskQueue,
    headJobDefinition: batch.headJobDefinition,
    headJobRole: batch.headJobRole,
    batchLogGroup: batch.logGroup,
    headSecurityGroup: batch.headSecurityGroup,
  });
  const triggers = new TriggersStack(app, id('triggers'), config, {
    env,
    description: 'scrna-platform: S3 upload trigger',
    vpc: network.vpc,
    raw: storage.raw,
    apiUrl,
    apiClientSecurityGroup: api.clientSecurityGroup,
    adminToken: api.adminToken,
    adminTokenKey: api.key,
  });
  const observability = new ObservabilityStack(app, id('observability'), config, {
    env,
    description: 'scrna-platform: alarms and dashboard',
    headQueueArn: batch.headQueue.jobQueueArn,
    taskQueueArn: batch.taskQueue.jobQueueArn,
    loadBalancer: api.loadBalancer,
    targetGroup: api.targetGroup,
    service: api.service,
    database: database.instance,
    trigger: triggers.function,
    deadLetterQueue: triggers.deadLetterQueue,
  });

  // Explicit order for `cdk deploy --all` (most of it also follows from the references above).
  database.addStackDependency(network);
  batch.addStackDependency(network);
  batch.addStackDependency(storage);
  api.addStackDependency(database);
  api.addStackDependency(batch);
  triggers.addStackDependency(api);
  observability.addStackDependency(triggers);

  if (opts.nag) {
    const packs = nagPacks(app);
    Validations.of(app).addPlugins(new SuppressionTable(app, packs, config.name), ...packs);
  }
  return { app, network, database, storage, batch, api, triggers, observability };
}
