// The upload-trigger Lambda handler against the real API (Fastify on 127.0.0.1, fresh Postgres database) and
// S3 served by moto, with EventBridge "Object Created" payloads as S3 sends them. The routing rule itself
// (only FASTQ keys) is evaluated by moto's EventBridge with an SQS target.
import { gzipSync } from 'node:zlib';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import t from 'tap';
import { createHandler, type ObjectCreatedEvent, parseCsv } from '../../infra/src/lambda/upload-trigger.js';
import { fastqPattern } from '../../infra/src/stacks/triggers.js';
import { platformFor } from '../api/helpers.js';
import { fakeCredentials, startMoto } from './moto.js';

const region = 'eu-west-1';
const bucket = 'scrna-raw-123456789012-eu-west-1';
const suffixes = ['.fastq.gz', '.fq.gz'];
const adminToken = 'trigger-test-admin-token-0123456789abcdef';

/** An EventBridge event exactly as S3 emits it for a PutObject (see the S3 user guide, "EventBridge event message structure"). */
function objectCreated(key: string, size: number, etag: string, b = bucket): ObjectCreatedEvent {
  return {
    version: '0',
    id: `17793124-05d4-b198-2fde-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-25T12:00:00Z',
    region,
    resources: [`arn:aws:s3:::${b}`],
    detail: {
      version: '0',
      bucket: { name: b },
      object: { key, size, etag, sequencer: '00617F08299329D189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  };
}

/** A one-read gzipped FASTQ (Illumina header); the handler never reads it, S3 only stores it. */
const fastq = (sample: string, read: string) =>
  gzipSync(
    `@A00123:8:H5:1:1101:1000:1000 ${read === 'R1' ? 1 : 2}:N:0:${sample}\nACGTACGTACGTACGTACGTACGTAC\n+\nFFFFFFFFFFFFFFFFFFFFFFFFFF\n`,
  );

const moto = await startMoto(t);
const s3 = new S3Client({ region, endpoint: moto, forcePathStyle: true, credentials: fakeCredentials });
await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region } }));

async function put(key: string, body: Buffer | string) {
  const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { key, size: Buffer.byteLength(body), etag: (out.ETag ?? '').replaceAll('"', '') };
}

t.test('the rule sends FASTQ keys of the raw bucket to the target and nothing else', async (t) => {
  const events = new EventBridgeClient({ region, endpoint: moto, credentials: fakeCredentials });
  const sqs = new SQSClient({ region, endpoint: moto, credentials: fakeCredentials });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'routed' }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  const p = fastqPattern(bucket, suffixes);
  const pattern = JSON.stringify({ source: p.source, 'detail-type': p.detailType, detail: p.detail });
  await events.send(new PutRuleCommand({ Name: 'fastq-created', EventPattern: pattern }));
  await events.send(new PutTargetsCommand({ Rule: 'fastq-created', Targets: [{ Id: 'q', Arn: Attributes!.QueueArn! }] }));

  const sent = [
    objectCreated('run1/pbmc_S1_L001_R1_001.fastq.gz', 10, 'a'),
    objectCreated('run1/pbmc_S1_L001_R2_001.fq.gz', 10, 'b'),
    objectCreated('run1/samplesheet.csv', 10, 'c'),
    objectCreated('run1/pbmc_S1_L001_R1_001.fastq', 10, 'd'),
    objectCreated('run1/pbmc.fastq.gz.md5', 10, 'e'),
    objectCreated('run1/pbmc_S1_L001_R1_001.fastq.gz', 10, 'f', 'some-other-bucket'),
  ];
  await events.send(
    new PutEventsCommand({
      Entries: sent.map((e) => ({
        Source: e.source,
        DetailType: e['detail-type'],
        Detail: JSON.stringify(e.detail),
        Resources: e.resources,
      })),
    }),
  );
  const keys: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of Messages ?? []) {
      const e = JSON.parse(m.Body!) as ObjectCreatedEvent;
      keys.push(`${e.detail.bucket.name}/${e.detail.object.key}`);
    }
  }
  t.same(keys.sort(), [`${bucket}/run1/pbmc_S1_L001_R1_001.fastq.gz`, `${bucket}/run1/pbmc_S1_L001_R2_001.fq.gz`]);
});

t.test('handler: registers each FASTQ, launches one run when the samplesheet is complete', async (t) => {
  // The launched pipeline is not under test here: /bin/true stands in for the nextflow binary.
  const api = await platformFor(t, { adminToken, requireAuth: true, nextflowBin: '/bin/true' });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = api.app.server.address() as { port: number };
  const apiUrl = `http://127.0.0.1:${port}`;
  const handler = createHandler({
    s3,
    apiUrl,
    token: async () => adminToken,
    samplesheetName: 'samplesheet.csv',
    fastqSuffixes: suffixes,
    profiles: [],
  });
  const get = async (path: string) => {
    const res = await fetch(`${apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
    t.equal(res.status, 200, `GET ${path}`);
    return res.json() as Promise<Record<string, unknown>>;
  };

  // The samplesheet goes first (README); its FASTQ cells are relative to its folder or s3:// URIs.
  const sheet = await put(
    'lab/2026-11-25/samplesheet.csv',
    'sample,batch,fastq_1,fastq_2,chemistry\npbmc,b1,pbmc_S1_L001_R1_001.fastq.gz,pbmc_S1_L001_R2_001.fastq.gz,10xv3\n',
  );
  await put('lab/2026-11-25/params.json', JSON.stringify({ genome: 'GRCh38' }));

  t.same(await handler(objectCreated('lab/2026-11-25/samplesheet.csv', 10, sheet.etag)), {
    action: 'ignored',
    reason: 'not a FASTQ key: lab/2026-11-25/samplesheet.csv',
  });

  const r1 = await put('lab/2026-11-25/pbmc_S1_L001_R1_001.fastq.gz', fastq('pbmc', 'R1'));
  const first = await handler(objectCreated(r1.key, r1.size, r1.etag));
  t.match(first, {
    action: 'registered',
    upload: { uri: `s3://${bucket}/${r1.key}`, sample: 'pbmc', lane: 1, read: 'R1', created: true },
    samplesheet: `s3://${bucket}/${sheet.key}`,
    missing: [`s3://${bucket}/lab/2026-11-25/pbmc_S1_L001_R2_001.fastq.gz`],
  });
  t.equal((await get('/runs')).total, 0, 'no run while a FASTQ is missing');

  const r2 = await put('lab/2026-11-25/pbmc_S1_L001_R2_001.fastq.gz', fastq('pbmc', 'R2'));
  const second = await handler(objectCreated(r2.key, r2.size, r2.etag));
  t.match(second, { action: 'launched', upload: { read: 'R2', created: true }, samplesheet: `s3://${bucket}/${sheet.key}` });
  const runId = (second as { runId: string }).runId;
  const run = await get(`/runs/${runId}`);
  t.match(run, {
    id: runId,
    name: '2026-11-25',
    submitter: 's3-upload-trigger',
    labels: { source: 's3-upload', samplesheet_etag: sheet.etag, samplesheet: `s3://${bucket}/${sheet.key}` },
    params: { genome: 'GRCh38' },
  });
  const launchedSheet = parseCsv(String(run.samplesheet));
  t.same(
    launchedSheet[1],
    ['pbmc', 'b1', `s3://${bucket}/${r1.key}`, `s3://${bucket}/${r2.key}`, '10xv3'],
    'FASTQ cells became s3:// URIs',
  );

  // EventBridge delivers at least once: the same event again registers nothing new and launches nothing.
  const again = await handler(objectCreated(r2.key, r2.size, r2.etag));
  t.match(again, { action: 'already-launched', runId, upload: { created: false } });
  t.equal((await get('/runs')).total, 1, 'still one run');

  // A FASTQ with no samplesheet at or above its folder is registered only.
  const lone = await put('other/x_S1_L002_R1_001.fastq.gz', fastq('x', 'R1'));
  t.match(await handler(objectCreated(lone.key, lone.size, lone.etag)), { action: 'registered', samplesheet: null, upload: { lane: 2 } });

  // Failures must reach Lambda's retries (and then the dead-letter queue): the handler throws.
  const badToken = createHandler({
    s3,
    apiUrl,
    token: async () => 'wrong',
    samplesheetName: 'samplesheet.csv',
    fastqSuffixes: suffixes,
    profiles: [],
  });
  await t.rejects(badToken(objectCreated(r1.key, r1.size, r1.etag)), /POST \/uploads -> 401/);
  await api.app.close();
  await t.rejects(handler(objectCreated(r1.key, r1.size, r1.etag)), /fetch failed|ECONNREFUSED/);
});

t.test('parseCsv reads quoted fields and CRLF', async (t) => {
  t.same(parseCsv('a,b\r\n"x, ""y""",z\r\n\r\n'), [
    ['a', 'b'],
    ['x, "y"', 'z'],
  ]);
});
