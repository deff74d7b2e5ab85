// One synthesis of the whole app with the example config, then: per-stack assertions, IAM scoping,
// cdk-nag (AwsSolutions + HIPAA Security) with every suppression explained, and cfn-lint on every template.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import t from 'tap';
import { DEPLOYED_ENV } from '../../api/src/aws-env.js';
import { nagPacks } from '../../infra/src/app.js';
import { acknowledgeFindings, SUPPRESSIONS } from '../../infra/src/nag.js';
import { RDS_CA_BUNDLE } from '../../infra/src/stacks/api.js';
import { HEAD_IMAGE_ENV } from '../../infra/src/stacks/batch.js';
import { STUCK_QUEUE_EXPRESSION } from '../../infra/src/stacks/observability.js';
import { run } from '../helpers/exec.js';
import { nextflowBin, repoRoot } from '../helpers/paths.js';
import { synthesize } from './platform.js';

const { platform, outdir, templates } = synthesize();
t.teardown(() => rmSync(outdir, { recursive: true, force: true }));
const tpl = {
  network: Template.fromStack(platform.network),
  database: Template.fromStack(platform.database),
  storage: Template.fromStack(platform.storage),
  batch: Template.fromStack(platform.batch),
  api: Template.fromStack(platform.api),
  triggers: Template.fromStack(platform.triggers),
  observability: Template.fromStack(platform.observability),
};
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;

t.test('the app synthesizes seven stacks, one template each', async (t) => {
  t.equal(templates.length, 7);
  for (const f of templates) t.ok(existsSync(f), path.basename(f));
  t.same(platform.api.dependencies.map((s) => s.stackName).sort(), ['scrna-batch', 'scrna-database', 'scrna-network', 'scrna-storage']);
});

t.test('network: two AZs of public/private/isolated subnets, endpoints, flow logs, NACL on isolated', async (t) => {
  const subnets = Object.values(resourcesOf(tpl.network)).filter((r) => r.Type === 'AWS::EC2::Subnet');
  t.equal(subnets.length, 6);
  tpl.network.resourceCountIs('AWS::EC2::FlowLog', 1);
  tpl.network.resourceCountIs('AWS::EC2::VPCEndpoint', 11); // S3 gateway + 10 interface endpoints
  tpl.network.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.batch', PrivateDnsEnabled: true });
  tpl.network.hasResourceProperties('AWS::EC2::NetworkAclEntry', {
    RuleNumber: 100,
    Protocol: 6,
    PortRange: { From: 5432, To: 5432 },
    Egress: false,
  });
  for (const s of subnets) t.not((s.Properties as { MapPublicIpOnLaunch?: boolean }).MapPublicIpOnLaunch, true);
});

t.test('database: PostgreSQL 16, not public, encrypted, isolated, rotated secret, reachable only from its client groups', async (t) => {
  tpl.database.hasResourceProperties('AWS::RDS::DBInstance', {
    Engine: 'postgres',
    EngineVersion: '16.13',
    PubliclyAccessible: false,
    StorageEncrypted: true,
    KmsKeyId: Match.anyValue(),
    MultiAZ: true,
    DeletionProtection: true,
    BackupRetentionPeriod: 14,
    EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
  });
  tpl.database.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
    SubnetIds: Match.arrayWith([{ 'Fn::ImportValue': Match.stringLikeRegexp('isolatedSubnet1') }]),
  });
  tpl.database.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  tpl.database.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: Match.anyValue() });
  // No CIDR ingress anywhere in the database stack: only security-group-to-security-group rules.
  for (const r of Object.values(resourcesOf(tpl.database))) {
    if (r.Type === 'AWS::EC2::SecurityGroupIngress') t.ok(r.Properties.SourceSecurityGroupId, 'ingress from a security group');
    if (r.Type === 'AWS::EC2::SecurityGroup') t.notOk(r.Properties.SecurityGroupIngress, 'no inline CIDR ingress');
  }
});

t.test('storage: every bucket blocks public access, denies non-TLS, logs access; lifecycle and EventBridge', async (t) => {
  const resources = resourcesOf(tpl.storage);
  const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
  t.equal(buckets.length, 4);
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
  for (const [id, bucket] of buckets) {
    t.same(
      bucket.Properties.PublicAccessBlockConfiguration,
      { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      `${id} blocks public access`,
    );
    const policy = policies.find((p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: id }));
    const statements = (policy?.Properties.PolicyDocument as { Statement: Record<string, unknown>[] } | undefined)?.Statement ?? [];
    t.ok(
      statements.some(
        (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
      `${id} denies requests without TLS`,
    );
    if (!id.startsWith('AccessLogs')) {
      t.ok(bucket.Properties.LoggingConfiguration, `${id} logs access`);
      t.equal(
        (
          bucket.Properties.BucketEncryption as {
            ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { SSEAlgorithm: string } }[];
          }
        ).ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.SSEAlgorithm,
        'aws:kms',
        `${id} is KMS-encrypted`,
      );
    }
  }
  tpl.storage.hasResourceProperties('AWS::S3::Bucket', {
    BucketName: 'scrna-work-123456789012-eu-west-1',
    LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 30, Status: 'Enabled' })]) },
  });
  tpl.storage.hasResourceProperties('AWS::S3::Bucket', {
    BucketName: 'scrna-raw-123456789012-eu-west-1',
    NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
  });
  t.notOk(
    Object.values(resources).some((r) => r.Type === 'Custom::S3BucketNotifications'),
    'EventBridge is enabled without a custom resource',
  );
});

t.test('batch: the head queue uses only on-demand capacity; tasks run on spot; scratch disk; head job definition', async (t) => {
  const resources = resourcesOf(tpl.batch);
  const queues = Object.values(resources).filter((r) => r.Type === 'AWS::Batch::JobQueue');
  const ceOf = (queueName: string) => {
    const q = queues.find((r) => r.Properties.JobQueueName === queueName);
    const order = q?.Properties.ComputeEnvironmentOrder as { ComputeEnvironment: { 'Fn::GetAtt': [string, string] } }[];
    t.ok(order?.length, `${queueName} has compute environments`);
    return order.map(
      (o) => resources[o.ComputeEnvironment['Fn::GetAtt'][0]]!.Properties as { Type: string; ComputeResources: Record<string, unknown> },
    );
  };
  for (const ce of ceOf('scrna-head')) {
    t.equal(ce.Type, 'managed');
    t.equal(ce.ComputeResources.Type, 'EC2', 'head compute environment is on-demand EC2');
    t.notOk(ce.ComputeResources.BidPercentage);
  }
  for (const ce of ceOf('scrna-tasks')) {
    t.equal(ce.ComputeResources.Type, 'SPOT');
    t.equal(ce.ComputeResources.AllocationStrategy, 'SPOT_PRICE_CAPACITY_OPTIMIZED');
    t.match(JSON.stringify(ce.ComputeResources.Subnets), /privateSubnet1.*privateSubnet2/, 'tasks run in the private subnets');
  }
  tpl.batch.hasResourceProperties('AWS::EC2::LaunchTemplate', {
    LaunchTemplateData: Match.objectLike({
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 500, Encrypted: true, VolumeType: 'gp3' } }],
      MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
    }),
  });
  tpl.batch.hasResourceProperties('AWS::Batch::JobDefinition', {
    JobDefinitionName: 'scrna-head-node',
    ContainerProperties: Match.objectLike({
      Image: Match.anyValue(),
      JobRoleArn: Match.anyValue(),
      Environment: Match.arrayWith([
        { Name: 'SCRNA_API_URL', Value: 'https://scrna.example.org' },
        { Name: 'SCRNA_BATCH_TASK_QUEUE', Value: Match.anyValue() },
        { Name: 'SCRNA_BATCH_LOG_GROUP', Value: Match.anyValue() },
      ]),
    }),
  });
  const image = JSON.stringify(
    (Object.values(resources).find((r) => r.Type === 'AWS::Batch::JobDefinition')!.Properties.ContainerProperties as { Image: unknown })
      .Image,
  );
  t.match(image, /scrna\/head-node:0\.1\.0/);
});

t.test('api: Fargate service behind HTTPS, health check, secrets from Secrets Manager, migration task, autoscaling', async (t) => {
  tpl.api.hasResourceProperties('AWS::ECS::Service', {
    LaunchType: 'FARGATE',
    NetworkConfiguration: Match.objectLike({ AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) }),
  });
  tpl.api.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/healthz', Port: 8080, TargetType: 'ip' });
  tpl.api.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS' });
  tpl.api.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Port: 80,
    DefaultActions: [Match.objectLike({ Type: 'redirect', RedirectConfig: Match.objectLike({ Protocol: 'HTTPS', Port: '443' }) })],
  });
  const taskDefs = Object.values(resourcesOf(tpl.api)).filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
  t.equal(taskDefs.length, 2, 'service and migration task definitions');
  const containers = taskDefs.map((td) => (td.Properties.ContainerDefinitions as Record<string, unknown>[])[0]!);
  const service = containers.find((c) => c.Name === 'api')!;
  const migrate = containers.find((c) => c.Name === 'migrate')!;
  t.same(
    (service.PortMappings as { ContainerPort: number }[]).map((p) => p.ContainerPort),
    [8080],
  );
  const secretNames = (c: Record<string, unknown>) => (c.Secrets as { Name: string; ValueFrom: unknown }[]).map((s) => s.Name).sort();
  t.same(secretNames(service), ['SCRNA_ADMIN_TOKEN'], 'database logins are read per connection, not injected at start');
  t.notOk(migrate.Secrets, 'the migration task reads its logins itself');
  t.same(migrate.Command, ['node', 'api/dist/cli.js', 'migrate']);
  const env = Object.fromEntries((service.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
  t.match(env, {
    PORT: '8080',
    HOST: '0.0.0.0',
    SCRNA_LAUNCHER: 'awsbatch',
    SCRNA_RESULT_STORE: 's3',
    SCRNA_LOG_SOURCE: 'cloudwatch',
    AWS_REGION: 'eu-west-1',
  });
  for (const k of [
    'SCRNA_BATCH_HEAD_QUEUE',
    'SCRNA_BATCH_TASK_QUEUE',
    'SCRNA_BATCH_HEAD_JOB_DEFINITION',
    'SCRNA_RAW_BUCKET',
    'SCRNA_WORK_BUCKET',
    'SCRNA_RESULTS_BUCKET',
    'SCRNA_BATCH_LOG_GROUP',
  ]) {
    t.ok(env[k], `${k} is set`);
  }
  t.notOk(
    Object.keys(env).some((k) => /PASSWORD|TOKEN/.test(k)),
    'no credential is a plain environment variable',
  );
  for (const [k, v] of Object.entries(env)) if (/SECRET/.test(k)) t.type(v, 'object', `${k} names a secret (a reference), it holds none`);
  tpl.api.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
  tpl.api.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/scrna/api', RetentionInDays: 365, KmsKeyId: Match.anyValue() });
});

t.test('IAM: no "*" resource for S3, logs or Batch except the calls AWS cannot scope', async (t) => {
  // Actions with no resource-level permissions (AWS service authorization reference): "*" is required.
  const unscopable =
    /^(batch:(Describe|List)\w+|ecs:Describe\w+|ec2:Describe\w+|ecr:GetAuthorizationToken|ec2:(Create|Delete|Describe|Assign|Unassign)\w*NetworkInterface\w*|xray:\w+)$/;
  let checked = 0;
  for (const [name, template] of Object.entries(tpl)) {
    for (const [id, r] of Object.entries(resourcesOf(template))) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      for (const st of (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement) {
        const actions = ([] as string[]).concat(st.Action);
        const resources = ([] as unknown[]).concat(st.Resource);
        checked++;
        if (resources.includes('*')) {
          for (const a of actions) t.match(a, unscopable, `${name}/${id}: "${a}" on "*" must be an unscopable call`);
        }
        for (const a of actions.filter((x) => /^(s3|logs|batch):/.test(x) && !unscopable.test(x))) {
          for (const res of resources) t.not(res, '*', `${name}/${id}: ${a} is scoped`);
        }
        if (actions.some((a) => a.startsWith('s3:'))) {
          const text = JSON.stringify(resources);
          t.match(text, /(Raw|Work|Results)[0-9A-F]+|AccessLogs/, `${name}/${id}: S3 access names a platform bucket`);
        }
        if (actions.some((a) => /^logs:(GetLogEvents|FilterLogEvents)$/.test(a))) {
          t.match(JSON.stringify(resources), /JobLogs/, `${name}/${id}: log reads are limited to the Batch log group`);
        }
      }
    }
  }
  t.ok(checked > 10, `${checked} statements checked`);
  // The head job submits only to the task queue and nf-* job definitions.
  tpl.batch.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Sid: 'SubmitTasks',
          Resource: [
            { 'Fn::GetAtt': [Match.stringLikeRegexp('TaskQueue'), 'JobQueueArn'] },
            'arn:aws:batch:eu-west-1:123456789012:job-definition/nf-*',
          ],
        }),
      ]),
    },
  });
});

t.test('triggers: only FASTQ keys in the raw bucket reach the bundled Lambda; retries and dead letters', async (t) => {
  tpl.triggers.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: {
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [Match.anyValue()] }, object: { key: [{ suffix: '.fastq.gz' }, { suffix: '.fq.gz' }] } },
    },
    Targets: [
      Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 }, DeadLetterConfig: Match.anyValue() }),
    ],
  });
  tpl.triggers.hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.handler',
    Runtime: 'nodejs24.x',
    ReservedConcurrentExecutions: 1,
    DeadLetterConfig: Match.anyValue(),
    VpcConfig: Match.anyValue(),
    Environment: {
      Variables: Match.objectLike({ SCRNA_PUBLIC_URL: 'https://scrna.example.org', SCRNA_FASTQ_SUFFIXES: '.fastq.gz,.fq.gz' }),
    },
  });
  tpl.triggers.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
  tpl.triggers.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() });
  // Bundled by the local esbuild (there is no Docker here): the asset holds one ESM file.
  const fn = platform.triggers.function.node.defaultChild as unknown as { code: { s3Key: string } };
  t.ok(fn.code.s3Key, 'code is a file asset');
  const bundle = readdirSync(outdir)
    .map((d) => path.join(outdir, d, 'index.mjs'))
    .find((f) => existsSync(f));
  t.ok(bundle, 'bundled index.mjs exists in the cloud assembly');
  t.match(readFileSync(bundle!, 'utf8'), /\/api\/v1/);
});

t.test('observability: failed-run and stuck-queue alarms to an encrypted topic, job-event metrics, dashboard', async (t) => {
  tpl.observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
    AlarmName: 'scrna-failed-runs',
    MetricName: 'FailedRuns',
    Namespace: 'scrna',
  });
  // Stays in alarm while the queue is stuck: windows without job events carry no data point and are ignored.
  tpl.observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
    AlarmName: 'scrna-batch-queue-stuck',
    TreatMissingData: 'ignore',
    Metrics: Match.arrayWith([Match.objectLike({ Expression: STUCK_QUEUE_EXPRESSION })]),
  });
  t.match(STUCK_QUEUE_EXPRESSION, /IF\(FILL\(queued, 0\) > 0, 1\)\)$/, 'the inner IF has no else branch: no data when nothing happened');
  tpl.observability.hasResourceProperties('AWS::Logs::MetricFilter', {
    MetricTransformations: [Match.objectLike({ MetricName: 'FailedRuns' })],
    FilterPattern: Match.anyValue(),
  });
  tpl.observability.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  tpl.observability.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org' });
  tpl.observability.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  for (const template of Object.values(tpl)) {
    for (const r of Object.values(resourcesOf(template))) {
      if (r.Type === 'AWS::Logs::LogGroup') {
        t.ok(r.Properties.RetentionInDays, `${r.Properties.LogGroupName as string} has a retention`);
        t.ok(r.Properties.KmsKeyId, `${r.Properties.LogGroupName as string} is KMS-encrypted`);
      }
    }
  }
});

type Statement = { Sid?: string; Principal?: unknown; Action: string | string[]; Resource: unknown; Condition?: unknown };
const containerOf = (name: string) =>
  Object.values(resourcesOf(tpl.api))
    .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
    .flatMap((r) => r.Properties.ContainerDefinitions as { Name: string; Environment: { Name: string; Value: unknown }[] }[])
    .find((c) => c.Name === name)!;
const envOf = (name: string) => Object.fromEntries(containerOf(name).Environment.map((e) => [e.Name, e.Value]));
const idOf = (template: Template, type: string, pattern: RegExp) =>
  Object.entries(resourcesOf(template)).find(([id, r]) => r.Type === type && pattern.test(id))![0];

t.test('security review: auth on, TLS only, database logins from Secrets Manager with TLS verified', async (t) => {
  const api = envOf('api');
  t.equal(api[DEPLOYED_ENV.requireAuth], '1', 'the deployed API requires tokens');
  t.equal(api[DEPLOYED_ENV.databaseCaBundle], RDS_CA_BUNDLE, 'TLS to the database is verified against the bundle in the image');
  t.match(JSON.stringify(api[DEPLOYED_ENV.databaseSecret]), /AppSecret/, 'the API logs in with the application secret');
  t.notOk(api.PGSSLMODE, 'no unverified sslmode');
  t.notOk(api[DEPLOYED_ENV.databaseMasterSecret], 'the API never sees the master login');
  t.match(
    JSON.stringify(envOf('migrate')[DEPLOYED_ENV.databaseMasterSecret]),
    /database:ExportsOutputRefSecret/,
    'the migration task has the master secret',
  );
  // Every listener is HTTPS, or the port-80 redirect to it.
  const listeners = Object.values(resourcesOf(tpl.api)).filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::Listener');
  t.equal(listeners.length, 3, 'public HTTPS, public redirect, internal HTTPS');
  for (const l of listeners) {
    const redirect = JSON.stringify(l.Properties.DefaultActions).includes('"Protocol":"HTTPS"') && l.Properties.Port === 80;
    t.ok(l.Properties.Protocol === 'HTTPS' || redirect, `listener on ${l.Properties.Port} is TLS or a redirect to it`);
    if (l.Properties.Protocol === 'HTTPS') t.ok(l.Properties.Certificates, 'with the ACM certificate');
  }
  tpl.api.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
  tpl.api.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'scrna.example.org.', VPCs: Match.anyValue() });
  // The multi-user rotation of the application login, next to the master's single-user rotation.
  tpl.database.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
  tpl.database.hasResourceProperties('AWS::SecretsManager::Secret', {
    Name: 'scrna/database-app',
  });
  t.match(JSON.stringify(resourcesOf(tpl.database)), /\\"username\\":\\"scrna_app\\"/, 'the application user is scrna_app');
  tpl.database.hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
});

t.test('security review: security groups per instance kind; only head instances and the trigger reach the API', async (t) => {
  const batch = resourcesOf(tpl.batch);
  const head = idOf(tpl.batch, 'AWS::EC2::SecurityGroup', /^HeadInstanceSg/);
  const task = idOf(tpl.batch, 'AWS::EC2::SecurityGroup', /^TaskInstanceSg/);
  const ces = Object.values(batch).filter((r) => r.Type === 'AWS::Batch::ComputeEnvironment');
  const sgOf = (name: string) =>
    JSON.stringify(
      (ces.find((c) => c.Properties.ComputeEnvironmentName === name)!.Properties.ComputeResources as { SecurityGroupIds: unknown })
        .SecurityGroupIds,
    );
  t.match(sgOf('scrna-head'), head);
  t.match(sgOf('scrna-tasks'), task);
  t.notMatch(sgOf('scrna-tasks'), head);
  type Egress = { CidrIp?: string; DestinationPrefixListId?: string; FromPort: number };
  for (const id of [head, task]) {
    const egress = [
      ...((batch[id]!.Properties.SecurityGroupEgress ?? []) as Egress[]),
      ...Object.values(batch)
        .filter((r) => r.Type === 'AWS::EC2::SecurityGroupEgress' && JSON.stringify(r.Properties.GroupId).includes(id))
        .map((r) => r.Properties as unknown as Egress),
    ];
    t.ok(egress.length >= 2, `${id}: ${egress.length} egress rules`);
    t.notOk(
      egress.some((e) => e.CidrIp === '0.0.0.0/0'),
      `${id}: no egress to the internet`,
    );
    t.ok(
      egress.every((e) => e.FromPort === 443),
      `${id}: HTTPS only`,
    );
    t.ok(
      egress.some((e) => e.DestinationPrefixListId === 'pl-6da54004'),
      `${id}: S3 through the gateway prefix list`,
    );
  }
  // The API tasks admit only the two load balancers; the internal one only head instances and API clients.
  const apiRes = resourcesOf(tpl.api);
  const ingressTo = (sg: RegExp) =>
    Object.values(apiRes)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && sg.test(JSON.stringify(r.Properties.GroupId)))
      .map((r) => JSON.stringify(r.Properties.SourceSecurityGroupId));
  const service = ingressTo(/ServiceSg/);
  t.equal(service.length, 2);
  t.ok(
    service.every((src) => /AlbSg|InternalAlbSg/.test(src)),
    'service: only from the load balancers',
  );
  const internal = ingressTo(/InternalAlbSg/);
  t.equal(internal.length, 2);
  t.ok(
    internal.some((src) => src.includes('HeadInstanceSg')),
    'internal ALB: from head instances',
  );
  t.ok(
    internal.some((src) => src.includes('ClientSg')),
    'internal ALB: from API clients (the trigger)',
  );
  t.notOk(
    JSON.stringify(Object.values(apiRes).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')).includes('TaskInstanceSg'),
    'task instances cannot reach the API',
  );
  // IMDSv2 with one hop: containers cannot read the instance role.
  tpl.batch.hasResourceProperties('AWS::EC2::LaunchTemplate', {
    LaunchTemplateData: Match.objectLike({ MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 } }),
  });
  const env = (
    JSON.parse(
      JSON.stringify(Object.values(batch).find((r) => r.Type === 'AWS::Batch::JobDefinition')!.Properties.ContainerProperties),
    ) as {
      Environment: { Name: string; Value: string }[];
    }
  ).Environment;
  t.match(Object.fromEntries(env.map((e) => [e.Name, e.Value])), {
    [HEAD_IMAGE_ENV.registry]: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/',
    [HEAD_IMAGE_ENV.tag]: '0.1.0',
  });
});

t.test("awsbatch.config, given the head job's synthesized environment, uses the configured registry and tag, spot retries", async (t) => {
  const props = Object.values(resourcesOf(tpl.batch)).find((r) => r.Type === 'AWS::Batch::JobDefinition')!.Properties
    .ContainerProperties as {
    Environment: { Name: string; Value: unknown }[];
  };
  // Literal values as synthesized; the references (queue, buckets, roles) only need to be present.
  const env = Object.fromEntries(
    props.Environment.map((e) => [e.Name, typeof e.Value === 'string' ? e.Value : `ref-${e.Name.toLowerCase()}`]),
  );
  const r = await run(nextflowBin, ['config', repoRoot, '-profile', 'awsbatch', '-flat'], { env });
  t.equal(r.code, 0, r.code === 0 ? 'nextflow config resolves' : r.stderr);
  for (const image of ['starsolo', 'scanpy', 'cellranger'])
    t.match(
      r.stdout,
      `'123456789012.dkr.ecr.eu-west-1.amazonaws.com/scrna/${image}:0.1.0'`,
      `${image} from the configured registry and tag`,
    );
  const spot = Number(/aws\.batch\.maxSpotAttempts = (\d+)/.exec(r.stdout)?.[1] ?? 0);
  t.ok(spot > 0, `maxSpotAttempts = ${spot}: Batch retries a reclaimed task`);
  t.match(r.stdout, /process\.errorStrategy = .*Integer\.MAX_VALUE/, 'a task whose host vanished (no exit code) is retried');
  t.notMatch(r.stdout, /aws\.batch\.cliPath/, 'no host AWS CLI: the task images carry one');
});

t.test('security review: the DLQ key trusts EventBridge (this rule) and the Lambda; stuck alarm; NACLs; S3 endpoint policy', async (t) => {
  const keyPolicy = Object.values(resourcesOf(tpl.triggers)).find((r) => r.Type === 'AWS::KMS::Key')!.Properties.KeyPolicy as {
    Statement: Statement[];
  };
  const events = keyPolicy.Statement.find((st) => JSON.stringify(st.Principal).includes('events.amazonaws.com'));
  t.ok(events, 'EventBridge may use the DLQ key');
  t.match(JSON.stringify(events?.Condition), /rule\/scrna-fastq-created/, 'for the FASTQ rule only');
  const lambdaPolicy = Object.entries(resourcesOf(tpl.triggers)).find(
    ([id, r]) => r.Type === 'AWS::IAM::Policy' && /UploadTrigger/.test(id),
  )![1];
  t.ok(
    (lambdaPolicy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some(
      (st) => [st.Action].flat().includes('kms:GenerateDataKey') && JSON.stringify(st.Resource).includes('Key'),
    ),
    'the Lambda role may encrypt with the DLQ key',
  );
  // NACLs: one per tier; the database tier admits only PostgreSQL from the private subnets, no ephemeral ingress.
  tpl.network.resourceCountIs('AWS::EC2::NetworkAcl', 3);
  const entries = Object.entries(resourcesOf(tpl.network)).filter(([, r]) => r.Type === 'AWS::EC2::NetworkAclEntry');
  const isolatedIn = entries.filter(([id, r]) => id.startsWith('IsolatedAcl') && r.Properties.Egress !== true);
  t.ok(isolatedIn.length > 0);
  for (const [id, r] of isolatedIn) {
    t.same(r.Properties.PortRange, { From: 5432, To: 5432 }, `${id}: PostgreSQL only`);
    t.not(r.Properties.CidrBlock, '10.40.0.0/16', `${id}: from the private subnets, not the whole VPC`);
  }
  for (const [id, r] of entries) t.not(r.Properties.Protocol, -1, `${id}: a protocol and ports, never all traffic`);
  const publicIn = entries.filter(([id, r]) => id.startsWith('PublicAcl') && r.Properties.Egress !== true).map(([, r]) => r.Properties);
  t.ok(
    publicIn.some((e) => e.CidrBlock === '192.0.2.0/24' && (e.PortRange as { From: number }).From === 443),
    'clients reach the ALB',
  );
  // The S3 gateway endpoint names the platform's buckets and ECR's layer bucket only.
  const endpoint = Object.values(resourcesOf(tpl.network)).find(
    (r) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.VpcEndpointType === 'Gateway',
  )!;
  const resources = (endpoint.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap(
    (st) => [st.Resource].flat() as string[],
  );
  t.ok(resources.length > 0);
  for (const r of resources)
    t.match(r, /^arn:aws:s3:::(scrna-(raw|work|results|access-logs)-123456789012-eu-west-1|prod-eu-west-1-starport-layer-bucket)(\/\*)?$/);
});

t.test('cdk-nag AwsSolutions and HIPAA Security: zero unacknowledged findings, every acknowledgement explained', async (t) => {
  const packs = nagPacks(platform.app);
  const acknowledged = acknowledgeFindings(platform.app, packs, 'scrna');
  const remaining = packs.flatMap((p) =>
    p.validateScope(platform.app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)),
  );
  t.same(remaining, [], 'no unacknowledged findings');
  t.ok(acknowledged.length > 0);
  for (const a of acknowledged) t.ok(a.reason.length >= 40, `${a.ruleName} on ${a.path} has a reason`);
  // No stale entries: each suppression in the table is still needed by some finding.
  for (const s of SUPPRESSIONS) {
    t.ok(
      acknowledged.some((a) => a.ruleName.startsWith(s.rule) && a.reason === s.reason),
      `suppression ${s.rule} ${s.path} is used`,
    );
  }
  t.comment(`cdk-nag: ${acknowledged.length} findings acknowledged by ${SUPPRESSIONS.length} table entries, 0 unacknowledged`);
});

t.test('cfn-lint: every synthesized template has zero errors', async (t) => {
  const res = await run('cfn-lint', ['--format', 'json', '--', ...templates]);
  const findings = JSON.parse(res.stdout || '[]') as { Level: string; Rule: { Id: string }; Message: string; Filename: string }[];
  const errors = findings.filter((f) => f.Level === 'Error');
  t.same(
    errors.map((e) => `${path.basename(e.Filename)} ${e.Rule.Id} ${e.Message}`),
    [],
  );
  t.equal(res.code! & 2, 0, 'cfn-lint exit status has no error bit');
  t.comment(
    `cfn-lint: ${templates.length} templates, ${errors.length} errors, ${findings.filter((f) => f.Level === 'Warning').length} warnings`,
  );
});

// Acknowledgements are scoped to the statements they excuse: a one-role app whose "*" is excused for the Describe calls
// still reports a new statement that puts "*" on something else.
function findingsWith(extra?: iam.PolicyStatement): string[] {
  const app = new App();
  const stack = new Stack(app, 'scrna-api', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
  role.addToPolicy(new iam.PolicyStatement({ sid: 'DescribeJobs', actions: ['batch:DescribeJobs', 'batch:ListJobs'], resources: ['*'] }));
  if (extra) role.addToPolicy(extra);
  app.synth();
  const packs = nagPacks(app);
  acknowledgeFindings(app, packs, 'scrna');
  return packs.flatMap((p) => p.validateScope(app).violations.map((v) => v.ruleName)).filter((r) => r.startsWith('AwsSolutions-IAM5'));
}

t.test('cdk-nag scoping: the excused statement alone is acknowledged', async (t) => {
  t.same(findingsWith(), []);
});

t.test('cdk-nag scoping: another statement with the same wildcard is reported', async (t) => {
  t.same(findingsWith(new iam.PolicyStatement({ sid: 'Extra', actions: ['s3:GetObject'], resources: ['*'] })), [
    'AwsSolutions-IAM5[Resource::*]',
  ]);
});

t.test('cdk-nag scoping: the wildcard in an unnamed statement (not a grant: a literal resource) is reported', async (t) => {
  t.same(findingsWith(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] })), ['AwsSolutions-IAM5[Resource::*]']);
});
