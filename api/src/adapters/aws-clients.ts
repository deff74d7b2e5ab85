// The AWS SDK clients of the AWS adapters. Endpoints are left to the SDK, which reads AWS_ENDPOINT_URL and the
// per-service AWS_ENDPOINT_URL_S3 / _BATCH / _CLOUDWATCH_LOGS itself, so the same code talks to AWS or to an
// AWS-compatible server (moto in the tests).
import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { S3Client } from '@aws-sdk/client-s3';

export interface AwsClients {
  s3: S3Client;
  batch: BatchClient;
  logs: CloudWatchLogsClient;
}

export function awsClients(region: string, env: NodeJS.ProcessEnv = process.env): AwsClients {
  // An S3-compatible server on a plain host:port has no bucket subdomains; AWS itself is fine either way.
  const forcePathStyle = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  return {
    s3: new S3Client({ region, forcePathStyle }),
    batch: new BatchClient({ region }),
    // Log reads have low per-account quotas: adaptive mode also slows the client down after throttling.
    logs: new CloudWatchLogsClient({ region, retryMode: 'adaptive' }),
  };
}

export function closeClients(c: AwsClients): void {
  c.s3.destroy();
  c.batch.destroy();
  c.logs.destroy();
}

/** `s3://bucket/key` -> bucket and key (key may be empty). */
export function parseS3(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
}
