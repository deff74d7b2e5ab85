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
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AWS_CHOICES, AWS_ENV, DEPLOYED_ENV } from '../../../api/src/aws-env.js';
import { grantSecretRead, logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export const API_PORT = 8080;

/** Where the API image holds the RDS CA bundle (containers/api/Dockerfile puts it there; test/infra checks both). */
export const RDS_CA_BUNDLE = '/app/certs/rds-global-bundle.pem';

/**
 * The name the head node and the upload trigger call: the public name over HTTPS. Inside the VPC a private zone of
 * the same name answers with the internal load balancer, so that traffic never leaves the VPC and is still TLS with
 * the same certificate.
 */
export function internalApiUrl(config: PlatformConfig): string {
  return `https://${config.api.domainName}`;
}

export interface ApiStackProps extends StackProps {
  vpc: ec2.IVpc;
  database: rds.DatabaseInstance;
  databaseSecret: secretsmanager.ISecret;
  databaseAppSecret: secretsmanager.ISecret;
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
  /** Batch head instances: the only Batch instances that may call the API. */
  headSecurityGroup: ec2.ISecurityGroup;
}

export class ApiStack extends Stack {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** HTTPS inside the VPC for head nodes and the upload trigger. */
  readonly internalLoadBalancer: elbv2.ApplicationLoadBalancer;
  /** Members may call the API through the internal load balancer (the upload trigger attaches it). */
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
    const publicUrl = internalApiUrl(config);
    const certificate = elbv2.ListenerCertificate.fromArn(config.api.certificateArn);

    const cluster = new ecs.Cluster(this, 'Cluster', {
      clusterName: `${config.name}-api`,
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
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
      albSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), 'clients');
      albSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(80), 'clients (redirected to HTTPS)');
    }
    // Inside the VPC: the same name and certificate on an internal load balancer that only head nodes and API clients reach.
    const internalAlbSg = new ec2.SecurityGroup(this, 'InternalAlbSg', {
      vpc: props.vpc,
      description: 'Internal API load balancer: HTTPS from Batch head instances and API clients only',
      allowAllOutbound: false,
    });
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSg', {
      vpc: props.vpc,
      description: 'Members may call the platform API through the internal load balancer',
      allowAllOutbound: false,
    });
    internalAlbSg.addIngressRule(props.headSecurityGroup, ec2.Port.tcp(443), 'Nextflow events from head instances');
    internalAlbSg.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(443), 'API clients (upload trigger)');
    this.clientSecurityGroup.addEgressRule(internalAlbSg, ec2.Port.tcp(443), 'HTTPS to the internal API load balancer');
    // The head instances' group lives in the batch stack, which must not depend on this one: its egress rule lives here.
    new ec2.CfnSecurityGroupEgress(this, 'HeadToApi', {
      groupId: props.headSecurityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      destinationSecurityGroupId: internalAlbSg.securityGroupId,
      description: 'Batch head instances: HTTPS to the internal API load balancer',
    });
    const serviceSg = new ec2.SecurityGroup(this, 'ServiceSg', {
      vpc: props.vpc,
      description: 'API tasks: only from the two load balancers',
      allowAllOutbound: true,
    });
    serviceSg.addIngressRule(albSg, ec2.Port.tcp(API_PORT), 'from the load balancer');
    serviceSg.addIngressRule(internalAlbSg, ec2.Port.tcp(API_PORT), 'from the internal load balancer');
    albSg.addEgressRule(serviceSg, ec2.Port.tcp(API_PORT), 'to the API tasks');
    internalAlbSg.addEgressRule(serviceSg, ec2.Port.tcp(API_PORT), 'to the API tasks');

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
    // Both logins are read by the tasks themselves when a connection opens (rotation-proof), never injected at start.
    const appDb = secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseAppSecret', props.databaseAppSecret.secretArn);
    const masterDb = secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseSecret', props.databaseSecret.secretArn);
    const databaseEnv = {
      [DEPLOYED_ENV.databaseSecret]: appDb.secretArn,
      [DEPLOYED_ENV.databaseCaBundle]: RDS_CA_BUNDLE,
      [AWS_ENV.region]: region,
    };
    grantSecretRead(this, taskRole, appDb.secretArn, props.databaseKey.keyArn);
    const environment: Record<string, string> = {
      PORT: String(API_PORT),
      HOST: '0.0.0.0',
      NODE_ENV: 'production',
      SCRNA_DATA_DIR: '/var/lib/scrna',
      [DEPLOYED_ENV.requireAuth]: '1',
      ...databaseEnv,
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
      // What the head node's plugin is told to call: the API's name, answered inside the VPC by the internal load balancer.
      [AWS_ENV.publicUrl]: publicUrl,
    };
    const secrets = { SCRNA_ADMIN_TOKEN: ecs.Secret.fromSecretsManager(this.adminToken) };

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
    const migrationRole = new iam.Role(this, 'MigrationRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Migration task: read the application and master database logins',
    });
    grantSecretRead(this, migrationRole, appDb.secretArn, props.databaseKey.keyArn);
    grantSecretRead(this, migrationRole, masterDb.secretArn, props.databaseKey.keyArn);
    const migrationTask = new ecs.FargateTaskDefinition(this, 'MigrationTask', {
      family: `${config.name}-api-migrate`,
      cpu: 256,
      memoryLimitMiB: 512,
      taskRole: migrationRole,
    });
    migrationTask.addContainer('migrate', {
      image,
      command: config.api.migrationCommand,
      // The master login only here: it creates the application role once; the schema is then owned by that role.
      environment: { NODE_ENV: 'production', ...databaseEnv, [DEPLOYED_ENV.databaseMasterSecret]: masterDb.secretArn },
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'migrate' }),
    });

    const migrationSg = new ec2.SecurityGroup(this, 'MigrationSg', {
      vpc: props.vpc,
      description: 'Migration task: no inbound; outbound to the database and AWS endpoints',
      allowAllOutbound: true,
    });

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
    this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [certificate],
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

    this.internalLoadBalancer = new elbv2.ApplicationLoadBalancer(this, 'InternalAlb', {
      loadBalancerName: `${config.name}-api-internal`,
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: internalAlbSg,
      deletionProtection: true,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(300),
    });
    this.internalLoadBalancer.logAccessLogs(props.accessLogs, 'alb-internal');
    const internalTargets = new elbv2.ApplicationTargetGroup(this, 'InternalTargets', {
      vpc: props.vpc,
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      deregistrationDelay: Duration.seconds(30),
      healthCheck: { path: '/healthz', healthyHttpCodes: '200', interval: Duration.seconds(15) },
    });
    this.internalLoadBalancer.addListener('InternalHttps', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [certificate],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: [internalTargets],
      open: false,
    });
    // Split horizon: inside the VPC the API's name resolves to the internal load balancer.
    const zone = new route53.PrivateHostedZone(this, 'InternalZone', { zoneName: config.api.domainName, vpc: props.vpc });
    new route53.ARecord(this, 'InternalName', {
      zone,
      target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.internalLoadBalancer)),
    });
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: 500, targetGroup: this.targetGroup });

    new CfnOutput(this, 'Url', { value: publicUrl });
    new CfnOutput(this, 'LoadBalancerDns', {
      description: 'Point the public DNS name of api.domainName here (CNAME or alias)',
      value: this.loadBalancer.loadBalancerDnsName,
    });
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
