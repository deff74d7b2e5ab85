// Triggers: S3 "Object Created" for FASTQ keys in the raw bucket -> upload-trigger Lambda, with retries and DLQs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { grantSecretRead, logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface TriggersStackProps extends StackProps {
  vpc: ec2.IVpc;
  raw: s3.IBucket;
  apiUrl: string;
  apiClientSecurityGroup: ec2.ISecurityGroup;
  adminToken: secretsmanager.ISecret;
  adminTokenKey: kms.IKey;
}

/** EventBridge pattern: objects created in the raw bucket whose key ends with a FASTQ suffix, nothing else. */
export function fastqPattern(bucketName: string, suffixes: string[]): events.EventPattern {
  return {
    source: ['aws.s3'],
    detailType: ['Object Created'],
    detail: { bucket: { name: [bucketName] }, object: { key: suffixes.map((suffix) => ({ suffix })) } },
  };
}

export class TriggersStack extends Stack {
  readonly function: nodejs.NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: TriggersStackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} triggers (queue, logs)`);

    // Events that failed every retry (at the rule or in the function) land here for inspection and redrive.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      queueName: `${config.name}-upload-trigger-dlq`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.logGroup = logGroup(this, 'Logs', `/${config.name}/lambda/upload-trigger`, key, config);

    const sg = new ec2.SecurityGroup(this, 'Sg', {
      vpc: props.vpc,
      description: 'Upload trigger: outbound HTTPS to AWS endpoints and S3 (the API through its client group)',
      allowAllOutbound: false,
    });
    sg.addEgressRule(ec2.Peer.ipv4(config.network.cidr), ec2.Port.tcp(443), 'HTTPS to the AWS interface endpoints');
    sg.addEgressRule(ec2.Peer.prefixList(config.network.s3PrefixListId), ec2.Port.tcp(443), 'HTTPS to S3 (gateway endpoint)');
    this.function = new nodejs.NodejsFunction(this, 'UploadTrigger', {
      functionName: `${config.name}-upload-trigger`,
      entry: path.join(here, '../lambda/upload-trigger.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [
        sg,
        ec2.SecurityGroup.fromSecurityGroupId(this, 'ApiClient', props.apiClientSecurityGroup.securityGroupId, { mutable: false }),
      ],
      reservedConcurrentExecutions: config.triggers.reservedConcurrency,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      environmentEncryption: key,
      environment: {
        SCRNA_PUBLIC_URL: props.apiUrl,
        SCRNA_ADMIN_TOKEN_SECRET_ARN: props.adminToken.secretArn,
        SCRNA_SAMPLESHEET_NAME: config.triggers.samplesheetName,
        SCRNA_FASTQ_SUFFIXES: config.triggers.fastqSuffixes.join(','),
        SCRNA_PROFILES: config.triggers.profiles.join(','),
      },
      bundling: {
        // esbuild from node_modules bundles on the synthesizing machine; Docker is never used.
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node20',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        externalModules: [],
      },
    });
    props.raw.grantRead(this.function);
    grantSecretRead(this, this.function, props.adminToken.secretArn, props.adminTokenKey.keyArn);

    const ruleName = `${config.name}-fastq-created`;
    this.rule = new events.Rule(this, 'FastqCreated', {
      ruleName,
      description: 'FASTQs created in the raw bucket start the upload trigger',
      eventPattern: fastqPattern(props.raw.bucketName, config.triggers.fastqSuffixes),
    });
    // Both writers to the encrypted dead-letter queue need the key: EventBridge (for this rule only) and the function's role.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'], // In a key policy `*` means "this key".
        // Built from the fixed rule name: a reference to the rule would make key, queue, function and rule a cycle.
        conditions: { ArnEquals: { 'aws:SourceArn': `arn:aws:events:${this.region}:${this.account}:rule/${ruleName}` } },
      }),
    );
    key.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
      }),
    );
  }
}
