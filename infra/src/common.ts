// Small helpers every stack uses: a customer-managed KMS key and a CloudWatch log group that uses it.
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { PlatformConfig } from './config.js';

/** The platform's buckets by purpose; names are fixed so policies elsewhere (the S3 endpoint) can name them. */
export const PLATFORM_BUCKETS = ['raw', 'work', 'results', 'access-logs'] as const;
export type BucketPurpose = (typeof PLATFORM_BUCKETS)[number];
export const bucketName = (config: PlatformConfig, purpose: BucketPurpose) =>
  `${config.name}-${purpose}-${config.account}-${config.region}`;

/** A rotating KMS key per stack: no cross-stack key references, and each concern's data has its own key. */
export function platformKey(scope: Construct, id: string, description: string): kms.Key {
  const key = new kms.Key(scope, id, {
    description,
    enableKeyRotation: true,
    pendingWindow: Duration.days(30),
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const { region, account } = Stack.of(scope);
  // CloudWatch Logs encrypts log groups with this key; scoped to log groups of this account and region.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'], // In a key policy `*` means "this key".
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${region}:${account}:log-group:*` } },
    }),
  );
  return key;
}

export function logGroup(scope: Construct, id: string, name: string, key: kms.IKey, config: PlatformConfig, days?: number): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    logGroupName: name,
    encryptionKey: key,
    retention: (days ?? config.logs.retentionDays) as logs.RetentionDays,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/**
 * Read access to a secret that lives in another stack. Secret.grantRead would also edit the secret's KMS key
 * policy in that stack (via kms:ViaService), making the two stacks reference each other; the key already trusts
 * IAM policies of this account, so the decrypt permission goes on the grantee instead.
 */
export function grantSecretRead(scope: Construct, grantee: iam.IGrantable, secretArn: string, keyArn: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [secretArn] }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(scope).region}.amazonaws.com` } },
    }),
  );
}
