// API: the Fastify API (which also serves the built UI) on ECS Fargate behind an ALB, plus a one-off migration task.
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { AWS_CHOICES, AWS_ENV } from '../../../api/src/aws-env.js';
import { grantSecretRead, logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export const API_PORT = 8080;

/** The private name under which the head node and the upload trigger reach the API (Cloud Map, inside the VPC). */
export function internalApiUrl(config: PlatformConfig): string {
  return `http://api.${config.name}.internal:${API_PORT}`;
}

export interface ApiStackProps extends StackProps {
  vpc: ec2.IVpc;
  database: rds.DatabaseInstance;
  databaseSecret: secretsmanager.ISecret;
  databaseKey: kms.IKey;
  databaseClientSg: ec2.ISecurityGroup;
  raw: s3.IBucket;
  work: s3.IBucket;
  results: s3.IBucket;
  accessLogs: s3.IBucket;
  headQueue: batch.IJobQueue;
  taskQueue: batch.IJobQueue;
  headJobDefinition: batch.IJobDefinition;
  headJobRole: iam.IRole;
  batchLogGroup: logs.ILogGroup;
  batchSecurityGroup: ec2.ISecurityGroup;
}

export class ApiStack extends Stack {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** Members may call the API on its container port (the upload trigger attaches it). */
  readonly clientSecurityGroup: ec2.SecurityGroup;
  /** Bootstrap admin token (SCRNA_ADMIN_TOKEN); the upload trigger authenticates with it. */
  readonly adminToken: secretsmanager.Secret;
  readonly logGroup: logs.LogGroup;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: ApiStackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} api (logs, token)`);
    this.key = key;
    const { region, account } = this;
    const https = config.api.certificateArn !== undefined;
    const publicUrl = config.api.domainName ? `${https ? 'https' : 'http'}://${config.api.domainName}` : undefined;

    const cluster = new ecs.Cluster(this, 'Cluster', {
      clusterName: `${config.name}-api`,
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `${config.name}.internal`,
      vpc: props.vpc,
      description: 'Private names of platform services',
    });

    this.adminToken = new secretsmanager.Secret(this, 'AdminToken', {
      secretName: `${config.name}/api-admin-token`,
      description: 'Bootstrap API token (SCRNA_ADMIN_TOKEN); used by the upload trigger',
      encryptionKey: key,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    this.logGroup = logGroup(this, 'Logs', `/${config.name}/api`, key, config);

    const albSg = new ec2.SecurityGroup(this, 'AlbSg', {
      vpc: props.vpc,
      description: 'API load balancer: HTTP(S) from the configured client ranges',
      allowAllOutbound: false,
    });
    for (const cidr of config.api.allowedCidrs) {
      albSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(https ? 443 : 80), 'clients');
      if (https) albSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(80), 'clients (redirected to HTTPS)');
    }
    const serviceSg = new ec2.SecurityGroup(this, 'ServiceSg', {
      vpc: props.vpc,
      description: 'API tasks: from the load balancer, the Batch head node and API clients',
      allowAllOutbound: true,
    });
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSg', {
      vpc: props.vpc,
      description: 'Members may call the platform API on its container port',
      allowAllOutbound: true,
    });
    serviceSg.addIngressRule(albSg, ec2.Port.tcp(API_PORT), 'from the load balancer');
    serviceSg.addIngressRule(props.batchSecurityGroup, ec2.Port.tcp(API_PORT), 'Nextflow events from the head node');
    serviceSg.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(API_PORT), 'API clients (upload trigger)');
    albSg.addEgressRule(serviceSg, ec2.Port.tcp(API_PORT), 'to the API tasks');

    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'API: launch and watch head jobs, read logs and results',
    });
    props.raw.grantRead(taskRole);
    props.work.grantRead(taskRole); // task .command.* files for the log view
    props.work.grantPut(taskRole, 'runs/*'); // the Batch launcher stages each run's params and samplesheet
    props.results.grantReadWrite(taskRole);
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'LaunchHeadJobs',
        actions: ['batch:SubmitJob', 'batch:TagResource'],
        resources: [
          props.headQueue.jobQueueArn,
          props.headJobDefinition.jobDefinitionArn,
          `arn:aws:batch:${region}:${account}:job-definition/${props.headJobDefinition.jobDefinitionName}:*`,
        ],
      }),
    );
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CancelJobs',
        // Job ids are not known in advance; the ARN pattern limits this to jobs in this account and region.
        actions: ['batch:CancelJob', 'batch:TerminateJob'],
        resources: [`arn:aws:batch:${region}:${account}:job/*`],
      }),
    );
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeJobs',
        // batch:DescribeJobs and ListJobs support no resource-level permissions; AWS requires "*".
        actions: ['batch:DescribeJobs', 'batch:ListJobs'],
        resources: ['*'],
      }),
    );
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassHeadRole',
        actions: ['iam:PassRole'],
        resources: [props.headJobRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadJobLogs',
        actions: ['logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:DescribeLogStreams'],
        resources: [props.batchLogGroup.logGroupArn, `${props.batchLogGroup.logGroupArn}:log-stream:*`],
      }),
    );

    const image = ecs.ContainerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(this, 'ApiRepo', 'scrna/api'), config.images.tag);
    const environment: Record<string, string> = {
      PORT: String(API_PORT),
      HOST: '0.0.0.0',
      NODE_ENV: 'production',
      PGSSLMODE: 'require',
      SCRNA_DATA_DIR: '/var/lib/scrna',
      // The names the API reads on AWS, from the API's own list (api/src/aws-env.ts).
      [AWS_ENV.launcher]: AWS_CHOICES.launcher,
      [AWS_ENV.resultStore]: AWS_CHOICES.resultStore,
      [AWS_ENV.logSource]: AWS_CHOICES.logSource,
      [AWS_ENV.region]: region,
      [AWS_ENV.headQueue]: props.headQueue.jobQueueName,
      [AWS_ENV.taskQueue]: props.taskQueue.jobQueueName,
      [AWS_ENV.headJobDefinition]: props.headJobDefinition.jobDefinitionName,
      [AWS_ENV.logGroup]: props.batchLogGroup.logGroupName,
      [AWS_ENV.rawBucket]: props.raw.bucketName,
      [AWS_ENV.workBucket]: props.work.bucketName,
      [AWS_ENV.resultsBucket]: props.results.bucketName,
      // What the head node's plugin is told to call: the private service name, not the public URL.
      [AWS_ENV.publicUrl]: internalApiUrl(config),
    };
    // Imported by ARN so ECS's grant stays in this stack (see grantSecretRead).
    const db = secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseSecret', props.databaseSecret.secretArn);
    const secrets = {
      PGHOST: ecs.Secret.fromSecretsManager(db, 'host'),
      PGPORT: ecs.Secret.fromSecretsManager(db, 'port'),
      PGUSER: ecs.Secret.fromSecretsManager(db, 'username'),
      PGPASSWORD: ecs.Secret.fromSecretsManager(db, 'password'),
      PGDATABASE: ecs.Secret.fromSecretsManager(db, 'dbname'),
      SCRNA_ADMIN_TOKEN: ecs.Secret.fromSecretsManager(this.adminToken),
    };

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: `${config.name}-api`,
      cpu: config.api.cpu,
      memoryLimitMiB: config.api.memoryMiB,
      taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    taskDefinition.addContainer('api', {
      image,
      environment,
      secrets,
      portMappings: [{ containerPort: API_PORT, name: 'http' }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'api' }),
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${API_PORT}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: Duration.seconds(30),
        startPeriod: Duration.seconds(60),
      },
    });

    // One-off schema migration: same image, secrets and network; run it before (re)deploying the service (README).
    const migrationTask = new ecs.FargateTaskDefinition(this, 'MigrationTask', {
      family: `${config.name}-api-migrate`,
      cpu: 256,
      memoryLimitMiB: 512,
    });
    migrationTask.addContainer('migrate', {
      image,
      command: config.api.migrationCommand,
      environment: { NODE_ENV: 'production', PGSSLMODE: 'require' },
      secrets: {
        PGHOST: secrets.PGHOST,
        PGPORT: secrets.PGPORT,
        PGUSER: secrets.PGUSER,
        PGPASSWORD: secrets.PGPASSWORD,
        PGDATABASE: secrets.PGDATABASE,
      },
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'migrate' }),
    });

    const migrationSg = new ec2.SecurityGroup(this, 'MigrationSg', {
      vpc: props.vpc,
      description: 'Migration task: no inbound; outbound to the database and AWS endpoints',
      allowAllOutbound: true,
    });
    for (const td of [taskDefinition, migrationTask])
      grantSecretRead(this, td.obtainExecutionRole(), db.secretArn, props.databaseKey.keyArn);

    this.service = new ecs.FargateService(this, 'Service', {
      serviceName: `${config.name}-api`,
      cluster,
      taskDefinition,
      desiredCount: config.api.minCount,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      // Imported immutable: rules the load balancer adds to the service's groups must not land on the database stack's group.
      securityGroups: [
        serviceSg,
        ec2.SecurityGroup.fromSecurityGroupId(this, 'DbClient', props.databaseClientSg.securityGroupId, { mutable: false }),
      ],
      assignPublicIp: false,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      healthCheckGracePeriod: Duration.seconds(120),
      cloudMapOptions: { name: 'api', cloudMapNamespace: namespace, dnsTtl: Duration.seconds(10), containerPort: API_PORT },
    });
    const scaling = this.service.autoScaleTaskCount({ minCapacity: config.api.minCount, maxCapacity: config.api.maxCount });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      loadBalancerName: `${config.name}-api`,
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      deletionProtection: true,
      dropInvalidHeaderFields: true,
      // Live views hold server-sent-event connections open.
      idleTimeout: Duration.seconds(300),
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, 'alb');
    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      deregistrationDelay: Duration.seconds(30),
      healthCheck: { path: '/healthz', healthyHttpCodes: '200', interval: Duration.seconds(15) },
    });
    if (https) {
      this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(config.api.certificateArn!)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
        open: false,
      });
      this.loadBalancer.addListener('Redirect', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        open: false,
        defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
    } else {
      this.loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [this.targetGroup], open: false });
    }
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: 500, targetGroup: this.targetGroup });

    new CfnOutput(this, 'Url', { value: publicUrl ?? `http://${this.loadBalancer.loadBalancerDnsName}` });
    new CfnOutput(this, 'MigrateCommand', {
      description: 'Runs the schema migration once (before the first deploy of a new API version)',
      value: [
        'aws ecs run-task',
        `--cluster ${cluster.clusterName}`,
        `--task-definition ${migrationTask.family}`,
        '--launch-type FARGATE',
        `--network-configuration 'awsvpcConfiguration={subnets=[${props.vpc.privateSubnets.map((s) => s.subnetId).join(',')}],securityGroups=[${migrationSg.securityGroupId},${props.databaseClientSg.securityGroupId}]}'`,
      ].join(' '),
    });
  }
}
