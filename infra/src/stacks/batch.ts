// Batch: spot compute for tasks, on-demand compute for the Nextflow head job, queues, roles, head-node job definition.
import { Duration, Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export interface BatchStackProps extends StackProps {
  vpc: ec2.IVpc;
  raw: s3.IBucket;
  work: s3.IBucket;
  results: s3.IBucket;
  dataKey: kms.IKey;
  /** URL the head node's nf-scrna plugin posts events to (the API's name over HTTPS). */
  apiUrl: string;
  /** Security group of the interface endpoints: the one place task instances may send HTTPS to besides S3. */
  endpointSecurityGroup: ec2.ISecurityGroup;
}

/**
 * Names of the head job's environment that workflows/conf/awsbatch.config reads for task images
 * (test/infra checks the config resolves them into the configured registry and tag).
 */
export const HEAD_IMAGE_ENV = { registry: 'SCRNA_CONTAINER_REGISTRY', tag: 'SCRNA_CONTAINER_TAG' } as const;

export class BatchStack extends Stack {
  readonly headQueue: batch.JobQueue;
  readonly taskQueue: batch.JobQueue;
  readonly headJobDefinition: batch.EcsJobDefinition;
  readonly logGroup: logs.LogGroup;
  readonly taskJobRole: iam.Role;
  readonly headJobRole: iam.Role;
  /** Head instances: may call the API (internal load balancer) and AWS endpoints. */
  readonly headSecurityGroup: ec2.SecurityGroup;
  /** Task instances: AWS endpoints (ECR, logs, ECS, ...) and S3 only; no route to the API or the internet. */
  readonly taskSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: BatchStackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} batch (job logs)`);
    const { region, account } = this;
    this.logGroup = logGroup(this, 'JobLogs', `/${config.name}/batch/jobs`, key, config);

    // Egress per instance kind, no inbound: HTTPS to the interface endpoints and to S3 (gateway prefix list) for both;
    // head instances also reach the API. Task images come from ECR through the endpoints, so tasks need nothing else.
    const instanceSg = (id: string, description: string) => {
      const sg = new ec2.SecurityGroup(this, id, { vpc: props.vpc, description, allowAllOutbound: false });
      sg.addEgressRule(props.endpointSecurityGroup, ec2.Port.tcp(443), 'HTTPS to the AWS interface endpoints');
      sg.addEgressRule(ec2.Peer.prefixList(config.network.s3PrefixListId), ec2.Port.tcp(443), 'HTTPS to S3 (gateway endpoint)');
      return sg;
    };
    this.headSecurityGroup = instanceSg('HeadInstanceSg', 'Batch head instances: no inbound; outbound to AWS endpoints, S3 and the API');
    this.taskSecurityGroup = instanceSg('TaskInstanceSg', 'Batch task instances: no inbound; outbound to AWS endpoints and S3 only');

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      launchTemplateName: `${config.name}-batch`,
      requireImdsv2: true,
      // Containers are one hop further than the instance: with 1 they cannot read the instance role's credentials.
      // Tasks get their job role from the ECS agent's credential endpoint instead.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(config.batch.scratchVolumeGiB, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Batch container instances (ECS agent: register, pull images, ship logs)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });

    const instanceTypes = (names: string[]) => names.filter((n) => n.includes('.')).map((n) => new ec2.InstanceType(n));
    const instanceClasses = (names: string[]) => names.filter((n) => !n.includes('.')) as ec2.InstanceClass[];
    const computeEnvironment = (id: string, spot: boolean, maxvCpus: number, types: string[], sg: ec2.ISecurityGroup) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, id, {
        computeEnvironmentName: `${config.name}-${id.toLowerCase()}`,
        vpc: props.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [sg],
        spot,
        ...(spot
          ? {
              spotBidPercentage: config.batch.spotBidPercentage,
              allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
            }
          : {}),
        minvCpus: 0,
        maxvCpus,
        instanceTypes: instanceTypes(types),
        instanceClasses: instanceClasses(types),
        useOptimalInstanceClasses: false,
        instanceRole,
        launchTemplate,
        updateToLatestImageVersion: true,
        replaceComputeEnvironment: false,
      });

    const taskCe = computeEnvironment(
      'Tasks',
      config.batch.taskSpot,
      config.batch.taskMaxVcpus,
      config.batch.taskInstanceTypes,
      this.taskSecurityGroup,
    );
    // The head job holds the run's state: a spot reclaim would kill the whole run, so its capacity is on-demand only.
    const headCe = computeEnvironment('Head', false, config.batch.headMaxVcpus, config.batch.headInstanceTypes, this.headSecurityGroup);
    this.taskQueue = new batch.JobQueue(this, 'TaskQueue', {
      jobQueueName: `${config.name}-tasks`,
      computeEnvironments: [{ computeEnvironment: taskCe, order: 1 }],
    });
    this.headQueue = new batch.JobQueue(this, 'HeadQueue', {
      jobQueueName: `${config.name}-head`,
      computeEnvironments: [{ computeEnvironment: headCe, order: 1 }],
    });

    // Jobs Nextflow submits for tasks: read inputs, read/write the work directory, nothing else.
    this.taskJobRole = new iam.Role(this, 'TaskJobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Nextflow task containers: read raw FASTQs, read/write the work bucket',
    });
    props.raw.grantRead(this.taskJobRole);
    props.work.grantReadWrite(this.taskJobRole);

    this.headJobRole = new iam.Role(this, 'HeadJobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Nextflow head job: submit and watch task jobs, stage data, publish results',
    });
    props.raw.grantRead(this.headJobRole);
    props.work.grantReadWrite(this.headJobRole);
    props.results.grantReadWrite(this.headJobRole);
    const jobDefinitionArn = (name: string) => `arn:aws:batch:${region}:${account}:job-definition/${name}`;
    this.headJobRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SubmitTasks',
        // Nextflow registers one job definition per container image, named nf-<image>.
        actions: ['batch:SubmitJob', 'batch:RegisterJobDefinition', 'batch:TagResource'],
        resources: [this.taskQueue.jobQueueArn, jobDefinitionArn('nf-*')],
      }),
    );
    this.headJobRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ControlTasks',
        // Job ids are not known in advance; the ARN pattern limits this to jobs in this account and region.
        actions: ['batch:CancelJob', 'batch:TerminateJob'],
        resources: [`arn:aws:batch:${region}:${account}:job/*`],
      }),
    );
    this.headJobRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeBatch',
        // These Describe/List calls support no resource-level permissions; AWS requires "*".
        actions: [
          'batch:DescribeJobQueues',
          'batch:DescribeJobs',
          'batch:DescribeJobDefinitions',
          'batch:DescribeComputeEnvironments',
          'batch:ListJobs',
          'ecs:DescribeTasks',
          'ecs:DescribeContainerInstances',
          'ec2:DescribeInstances',
          'ec2:DescribeInstanceTypes',
          'ec2:DescribeInstanceAttribute',
          'ec2:DescribeInstanceStatus',
        ],
        resources: ['*'],
      }),
    );
    this.headJobRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassTaskRole',
        actions: ['iam:PassRole'],
        resources: [this.taskJobRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    // Nextflow reads a failed task's CloudWatch stream to report its error.
    this.headJobRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTaskLogs',
        actions: ['logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:DescribeLogStreams'],
        resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:log-stream:*`],
      }),
    );

    const repository = ecr.Repository.fromRepositoryName(this, 'HeadNodeRepo', 'scrna/head-node');
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Batch head job execution: pull the head-node image, write its log stream',
    });
    this.headJobDefinition = new batch.EcsJobDefinition(this, 'HeadJob', {
      jobDefinitionName: `${config.name}-head-node`,
      propagateTags: true,
      retryAttempts: 2,
      // Only infrastructure failures are retried; a failing pipeline must not be re-run behind the user's back.
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Host EC2*' })),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
      timeout: Duration.days(7),
      container: new batch.EcsEc2ContainerDefinition(this, 'HeadContainer', {
        image: ecs.ContainerImage.fromEcrRepository(repository, config.images.tag),
        cpu: config.batch.headVcpus,
        memory: Size.mebibytes(config.batch.headMemoryMiB),
        jobRole: this.headJobRole,
        executionRole,
        logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'head' }),
        environment: {
          AWS_REGION: region,
          SCRNA_API_URL: props.apiUrl,
          SCRNA_PUBLIC_URL: props.apiUrl,
          SCRNA_BATCH_TASK_QUEUE: this.taskQueue.jobQueueName,
          SCRNA_BATCH_TASK_JOB_ROLE: this.taskJobRole.roleArn,
          SCRNA_BATCH_LOG_GROUP: this.logGroup.logGroupName,
          // Task images (scrna/starsolo, scrna/scanpy, ...) live next to the head-node image, with the same tag; they
          // carry the AWS CLI Nextflow's task wrapper uses, so instances need no CLI install (and no internet).
          [HEAD_IMAGE_ENV.registry]: `${config.images.registry}/`,
          [HEAD_IMAGE_ENV.tag]: config.images.tag,
          SCRNA_PIPELINE: '/opt/scrna/pipeline',
          SCRNA_RAW_BUCKET: props.raw.bucketName,
          SCRNA_WORK_BUCKET: props.work.bucketName,
          SCRNA_RESULTS_BUCKET: props.results.bucketName,
          NXF_CLOUDCACHE_PATH: `s3://${props.work.bucketName}/.nextflow-cache`,
        },
      }),
    });
  }
}
