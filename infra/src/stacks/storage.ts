// Storage: raw FASTQs, Nextflow work and results buckets, plus the access-log bucket they (and the ALB) log to.
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { type BucketPurpose, bucketName, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export class StorageStack extends Stack {
  readonly key: kms.Key;
  readonly raw: s3.Bucket;
  readonly work: s3.Bucket;
  readonly results: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: StackProps) {
    super(scope, id, props);
    this.key = platformKey(this, 'Key', `${config.name} data buckets`);
    const removalPolicy = config.storage.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const name = (purpose: BucketPurpose) => bucketName(config, purpose);

    // Server access logs and ALB logs can only be delivered to SSE-S3 buckets, so this one is not KMS-encrypted.
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      bucketName: name('access-logs'),
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      versioned: true,
      removalPolicy,
      lifecycleRules: [
        { id: 'expire-logs', expiration: Duration.days(config.logs.retentionDays), noncurrentVersionExpiration: Duration.days(30) },
      ],
    });

    const bucket = (id: string, purpose: BucketPurpose, extra: Partial<s3.BucketProps>) =>
      new s3.Bucket(this, id, {
        bucketName: name(purpose),
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: this.key,
        bucketKeyEnabled: true,
        enforceSSL: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned: true,
        serverAccessLogsBucket: this.accessLogs,
        serverAccessLogsPrefix: `s3/${purpose}/`,
        removalPolicy,
        ...extra,
      });

    this.raw = bucket('Raw', 'raw', {
      lifecycleRules: [
        {
          id: 'archive-raw',
          transitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(config.storage.rawArchiveDays) },
          ],
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    this.work = bucket('Work', 'work', {
      lifecycleRules: [
        {
          id: 'expire-work',
          expiration: Duration.days(config.storage.workExpirationDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    this.results = bucket('Results', 'results', {
      lifecycleRules: [
        {
          id: 'tier-results',
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(config.storage.resultsInfrequentAccessDays) },
          ],
          noncurrentVersionExpiration: Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    // EventBridge notifications on the raw bucket (the upload trigger listens to "Object Created") and the results
    // bucket. Set on the resource itself: the L2 `eventBridgeEnabled` deploys a custom-resource Lambda to do it.
    for (const b of [this.raw, this.results]) {
      (b.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    }
  }
}
