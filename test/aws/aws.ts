// Shared by the AWS suites: moto on loopback with the platform's Batch queue, job definition, buckets and log
// group; a recording proxy in front of it; the platform configured for the AWS adapters.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchClient, CreateComputeEnvironmentCommand, CreateJobQueueCommand, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Test } from 'tap';
import type { AwsConfig, Config } from '../../api/src/config.js';
import { batchWithoutDocker, fakeCredentials, startMoto } from '../infra/moto.js';

export const region = 'eu-west-1';
export const names = {
  headQueue: 'scrna-head',
  taskQueue: 'scrna-tasks',
  headJobDefinition: 'scrna-head-node',
  logGroup: '/scrna/batch/jobs',
  rawBucket: 'scrna-raw-test',
  workBucket: 'scrna-work-test',
  resultsBucket: 'scrna-results-test',
};

export interface Moto {
  url: string;
  s3: S3Client;
  batch: BatchClient;
  logs: CloudWatchLogsClient;
}

/** moto with container execution off and the platform's resources; the process's SDK clients are pointed at `endpoint` (default moto itself). */
export async function motoPlatform(t: Test, opts: { env?: Record<string, string> } = {}): Promise<Moto> {
  const url = await startMoto(t, opts);
  await batchWithoutDocker(url);
  const client = { region, endpoint: url, credentials: fakeCredentials };
  const m: Moto = {
    url,
    s3: new S3Client({ ...client, forcePathStyle: true }),
    batch: new BatchClient(client),
    logs: new CloudWatchLogsClient(client),
  };
  t.teardown(() => {
    m.s3.destroy();
    m.batch.destroy();
    m.logs.destroy();
  });
  for (const b of [names.rawBucket, names.workBucket, names.resultsBucket])
    await m.s3.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: region } }));
  const ce = await m.batch.send(
    new CreateComputeEnvironmentCommand({
      computeEnvironmentName: 'scrna-head-ce',
      type: 'UNMANAGED',
      state: 'ENABLED',
      serviceRole: await batchServiceRole(url),
    }),
  );
  for (const q of [names.headQueue, names.taskQueue])
    await m.batch.send(
      new CreateJobQueueCommand({
        jobQueueName: q,
        priority: 1,
        state: 'ENABLED',
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: ce.computeEnvironmentArn }],
      }),
    );
  await m.batch.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: names.headJobDefinition,
      type: 'container',
      containerProperties: {
        image: 'scrna/head-node:0.1.0',
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '2048' },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': names.logGroup } },
      },
    }),
  );
  await m.logs.send(new CreateLogGroupCommand({ logGroupName: names.logGroup }));
  return m;
}

/** moto wants the compute environment's service role to exist; no IAM client is a dependency, so the query API. */
async function batchServiceRole(url: string): Promise<string> {
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: 'scrna-batch-service',
    AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
  });
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      // moto routes by the credential scope's service name; it does not check the signature.
      authorization: `AWS4-HMAC-SHA256 Credential=${fakeCredentials.accessKeyId}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0`,
    },
  });
  const text = await res.text();
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1];
  if (!arn) throw new Error(`CreateRole: ${res.status} ${text}`);
  return arn;
}

/** The SDK clients the platform builds read these (AWS_ENDPOINT_URL is honoured by the SDK itself). */
export function pointSdkAt(endpoint: string): void {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey,
    AWS_REGION: region,
  });
}

export function awsSettings(over: Partial<AwsConfig> = {}): AwsConfig {
  return {
    region,
    headQueue: names.headQueue,
    headJobDefinition: names.headJobDefinition,
    taskQueue: names.taskQueue,
    logGroup: names.logGroup,
    rawBucket: names.rawBucket,
    workBucket: names.workBucket,
    resultsBucket: names.resultsBucket,
    batchPollMs: 200,
    batchGraceMs: 60_000,
    headTimeoutSeconds: 3600,
    logPollMs: 100,
    ...over,
  };
}

/** Config overrides for the three AWS adapters. */
export function awsPlatform(over: Partial<AwsConfig> = {}): Partial<Config> {
  return {
    launcher: 'awsbatch',
    resultStore: 's3',
    logSource: 'cloudwatch',
    aws: awsSettings(over),
    s3Buckets: [names.rawBucket],
  };
}

export interface Recorded {
  method: string;
  path: string;
  target: string | undefined;
  /** The Range header of a ranged GET. */
  range?: string;
}

export interface RecordingProxy {
  url: string;
  requests: Recorded[];
  /** Answer matching requests with this status and AWS error instead of forwarding them. */
  fault: { match: (r: Recorded) => boolean; status: number; code: string } | null;
  close(): Promise<void>;
}

/**
 * Forwards to moto and records each request (method, path with query, X-Amz-Target). It stands in for what moto
 * does not model, AWS's request quotas: a fault makes matching requests answer as a throttled service would.
 */
export async function recordingProxy(t: Test, target: string): Promise<RecordingProxy> {
  const to = new URL(target);
  const state: RecordingProxy = { url: '', requests: [], fault: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        target: req.headers['x-amz-target'] as string | undefined,
        range: req.headers.range,
      };
      state.requests.push(r);
      const f = state.fault;
      if (f?.match(r)) {
        res.writeHead(f.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': f.code });
        res.end(JSON.stringify({ __type: f.code, message: 'Rate exceeded' }));
        return;
      }
      const fwd = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on('error', () => res.writeHead(502).end());
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.teardown(() => state.close());
  return state;
}

/** Polls `check` until it returns a value (bounded: 300 tries, 100 ms apart). */
export async function until<T>(what: string, check: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
