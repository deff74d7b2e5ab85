// Issue 13, end to end on AWS: S3 upload -> EventBridge -> Lambda -> API -> Batch -> events -> S3 results -> UI.
// moto cannot run containers without a Docker engine, so this test plays the Batch compute environment: it takes
// the head job moto was given, runs the same pipeline on this machine (the job's profiles but with the local
// executor, the job's plugin environment pointing at this test's API), writes Nextflow's output to the job's
// CloudWatch stream with PutLogEvents while it runs, and uploads the outdir to the job's S3 outdir. moto reports
// the job SUCCEEDED at once; the launcher completes the run when the artefacts arrive within its grace period.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeJobsCommand, ListJobsCommand } from '@aws-sdk/client-batch';
import { CreateLogStreamCommand, GetLogEventsCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectAttributesCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { tableFromIPC } from 'apache-arrow';
import t from 'tap';
import { parseS3 } from '../../api/src/adapters/aws-clients.js';
import { HEAD_ENTRYPOINT, HEAD_PIPELINE, jobName } from '../../api/src/adapters/batch-launcher.js';
import { createHandler, type ObjectCreatedEvent, type TriggerResult } from '../../infra/src/lambda/upload-trigger.js';
import { fastqPattern } from '../../infra/src/stacks/triggers.js';
import { platformFor } from '../api/helpers.js';
import { nextflowBin, repoRoot } from '../helpers/paths.js';
import { fakeCredentials } from '../infra/moto.js';
import { awsPlatform, motoPlatform, names, pointSdkAt, region } from './aws.js';

const adminToken = 'aws-e2e-admin-token-0123456789abcdef';
const suffixes = ['.fastq.gz', '.fq.gz'];
const started = Date.now();

/** Bounded wait: `check` every `everyMs` until it returns a value or `maxMs` have passed. */
async function waitFor<T>(what: string, maxMs: number, everyMs: number, check: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i * everyMs < maxMs; i++) {
    const v = await check();
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${maxMs / 1000} s waiting for ${what}`);
}

const moto = await motoPlatform(t);
pointSdkAt(moto.url);
const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as net.AddressInfo;
    s.close(() => resolve(port));
  });
});
const api = `http://127.0.0.1:${port}`;
const p = await platformFor(t, {
  // Poll Batch every second; the grace period has to cover the whole pipeline, since moto says SUCCEEDED at once.
  ...awsPlatform({ batchPollMs: 1000, batchGraceMs: 50 * 60_000, logPollMs: 250 }),
  pipeline: repoRoot,
  workflowsDir: path.join(repoRoot, 'workflows'),
  port,
  publicUrl: api,
  adminToken,
  requireAuth: true,
});
await p.app.listen({ host: '127.0.0.1', port });
const auth = { authorization: `Bearer ${adminToken}` };
const get = (url: string) => p.app.inject({ url: `/api/v1${url}`, headers: auth });

t.test('an upload to S3 runs the pipeline on Batch and its results, QC, cells and logs are served', async (t) => {
  // --- S3 upload -> EventBridge: the samplesheet first, then its FASTQs; each Object Created event goes through
  // moto's EventBridge with the platform's rule (an SQS target stands in for the Lambda target).
  const dir = 'lab/2026-11-25';
  const sheet = 'sample,batch,fastq_1,fastq_2,chemistry\npbmc,b1,pbmc_S1_L001_R1_001.fastq.gz,pbmc_S1_L001_R2_001.fastq.gz,10xv3\n';
  await moto.s3.send(new PutObjectCommand({ Bucket: names.rawBucket, Key: `${dir}/samplesheet.csv`, Body: sheet }));
  const client = { region, endpoint: moto.url, credentials: fakeCredentials };
  const events = new EventBridgeClient(client);
  const sqs = new SQSClient(client);
  t.teardown(() => {
    events.destroy();
    sqs.destroy();
  });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'upload-trigger' }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  const rule = fastqPattern(names.rawBucket, suffixes);
  await events.send(
    new PutRuleCommand({
      Name: 'fastq-created',
      EventPattern: JSON.stringify({ source: rule.source, 'detail-type': rule.detailType, detail: rule.detail }),
    }),
  );
  await events.send(new PutTargetsCommand({ Rule: 'fastq-created', Targets: [{ Id: 'lambda', Arn: Attributes!.QueueArn! }] }));
  // --- EventBridge -> Lambda -> API: the handler as deployed (profiles from SCRNA_PROFILES: `test`, the seeded
  // synthetic data set that fits this machine; real FASTQs would take far longer than a test may). Each event is
  // handled before the next FASTQ is uploaded, as the Lambda (one event at a time) would see them.
  const handler = createHandler({
    s3: moto.s3,
    apiUrl: api,
    token: async () => adminToken,
    samplesheetName: 'samplesheet.csv',
    fastqSuffixes: suffixes,
    profiles: ['test'],
  });
  const results: TriggerResult[] = [];
  for (const read of ['R1', 'R2']) {
    const key = `${dir}/pbmc_S1_L001_${read}_001.fastq.gz`;
    // Stub FASTQs: the Lambda only checks they exist; the played head job runs the test profile's own data.
    const body = Buffer.from(`@r1 ${read === 'R1' ? 1 : 2}:N:0:pbmc\nACGT\n+\nFFFF\n`);
    const out = await moto.s3.send(new PutObjectCommand({ Bucket: names.rawBucket, Key: key, Body: body }));
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'aws.s3',
            DetailType: 'Object Created',
            Resources: [`arn:aws:s3:::${names.rawBucket}`],
            Detail: JSON.stringify({
              version: '0',
              bucket: { name: names.rawBucket },
              object: { key, size: body.length, etag: (out.ETag ?? '').replaceAll('"', '') },
              reason: 'PutObject',
            }),
          },
        ],
      }),
    );
    const delivered = await waitFor(`the event for ${key}`, 30_000, 100, async () => {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      return Messages?.length ? Messages : null;
    });
    for (const m of delivered) {
      results.push(await handler(JSON.parse(m.Body!) as ObjectCreatedEvent));
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  t.same(
    results.map((r) => r.action),
    ['registered', 'launched'],
    'the first FASTQ is registered, the second launches the run',
  );
  const runId = (results.find((r) => r.action === 'launched') as { runId: string }).runId;

  // --- API -> Batch: the launcher submitted one head job, found by name as the launcher itself does.
  const listed = await moto.batch.send(
    new ListJobsCommand({ jobQueue: names.headQueue, filters: [{ name: 'JOB_NAME', values: [jobName(runId)] }] }),
  );
  t.equal(listed.jobSummaryList?.length, 1, 'one head job');
  const job = (await moto.batch.send(new DescribeJobsCommand({ jobs: [listed.jobSummaryList![0]!.jobId!] }))).jobs![0]!;
  const run0 = (await get(`/runs/${runId}`)).json();
  t.equal(run0.nativeId, job.jobId, "the run's native id is the head job");
  const env = Object.fromEntries(job.container!.environment!.map((e) => [e.name!, e.value!]));
  t.match(env, { SCRNA_API_URL: api, SCRNA_RUN_ID: runId, SCRNA_OUTDIR: run0.outdir, SCRNA_LAUNCH_DIR: run0.launchDir });
  const command = job.container!.command!;
  t.same(command.slice(0, 4), [HEAD_ENTRYPOINT, 'nextflow', 'run', HEAD_PIPELINE]);
  const arg = (name: string) => command[command.indexOf(name) + 1]!;
  t.equal(arg('-profile'), 'awsbatch,test');

  // --- Playing the compute environment. What the head-node entrypoint does: fetch params.json from the launch
  // prefix, then run the job's command. Here: the pipeline from this checkout instead of /opt/scrna/pipeline; the
  // local executor instead of `awsbatch`; local outdir and work dir (uploaded below); no --input (the stub FASTQs
  // cannot be counted: the test profile generates its data); no NXF_CLOUDCACHE_PATH (an s3:// cache needs AWS).
  const local = await mkdtemp(path.join(tmpdir(), 'scrna-aws-e2e-'));
  t.teardown(() => rm(local, { recursive: true, force: true }));
  const params = parseS3(`${env.SCRNA_LAUNCH_DIR}/${arg('-params-file')}`);
  const staged = await moto.s3.send(new GetObjectCommand({ Bucket: params.bucket, Key: params.key }));
  await writeFile(path.join(local, 'params.json'), await staged.Body!.transformToString());
  const outdir = path.join(local, 'results');
  const args = [
    'run',
    repoRoot,
    '-profile',
    arg('-profile')
      .split(',')
      .filter((x) => x !== 'awsbatch')
      .join(','),
    '-c',
    arg('-c').replace(HEAD_PIPELINE, repoRoot),
    '-params-file',
    path.join(local, 'params.json'),
    '--outdir',
    outdir,
    '-work-dir',
    path.join(local, 'work'),
  ];
  const { NXF_CLOUDCACHE_PATH: _cache, ...jobEnv } = env;

  const group = job.container!.logConfiguration?.options?.['awslogs-group'] ?? names.logGroup;
  const stream = job.container!.logStreamName!;
  await moto.logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));

  // The CLI follows the head job's log before the job writes a line.
  const cli = spawn(
    process.execPath,
    [path.join(repoRoot, 'api/bin/scrna.js'), 'logs', runId, '--follow', '--url', api, '--token', adminToken],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.teardown(() => cli.kill());
  const cliExit = new Promise<number | null>((resolve) => cli.once('exit', resolve));
  let cliOut = '';
  let cliErr = '';
  let cliFirstAt = 0;
  cli.stdout.on('data', (d: Buffer) => {
    cliFirstAt ||= Date.now();
    cliOut += d.toString();
  });
  cli.stderr.on('data', (d: Buffer) => {
    cliErr += d.toString();
  });
  await sleep(1000);
  t.equal(cliOut, '', 'nothing to print before the job writes');

  // Nextflow's stdout and stderr, merged as the awslogs driver sends them, in batches of what arrived meanwhile.
  const nf = spawn(nextflowBin, args, {
    cwd: local,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...jobEnv, NXF_ANSI_LOG: 'false', TZ: 'UTC' },
  });
  t.teardown(() => nf.kill());
  // 'close', not 'exit': the last lines may still be in the pipes when the process has exited.
  const nfExit = new Promise<number | null>((resolve) => nf.once('close', resolve));
  const lines: string[] = [];
  let pending: string[] = [];
  for (const s of [nf.stdout, nf.stderr])
    createInterface({ input: s }).on('line', (l) => {
      if (!l.trim()) return; // CloudWatch refuses empty messages
      lines.push(l);
      pending.push(l);
    });
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const now = Date.now();
    await moto.logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: stream,
        logEvents: batch.map((message) => ({ message, timestamp: now })),
      }),
    );
  };
  let exitCode: number | null | undefined;
  void nfExit.then((c) => {
    exitCode = c;
  });
  // Bounded by the run's own limits: the test profile caps a task at one hour; 40 minutes here.
  const pipelineStart = Date.now();
  for (let i = 0; exitCode === undefined; i++) {
    if (i > 40 * 60 * 2) throw new Error('the pipeline did not finish within 40 minutes');
    await flush();
    await sleep(500);
  }
  await flush();
  const pipelineAt = Date.now();
  t.equal(exitCode, 0, `nextflow exited 0\n${lines.slice(-40).join('\n')}`);
  if (exitCode !== 0) return;
  t.ok(cliFirstAt > 0 && cliFirstAt < pipelineAt, 'the CLI printed lines while the job was still writing them');

  // --- The job's outdir to S3 with SHA-256 checksums, the trace and the manifest last (the launcher's signal).
  const out = parseS3(env.SCRNA_OUTDIR!);
  const files = (await readdir(outdir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => path.relative(outdir, path.join(e.parentPath, e.name)));
  const lastOnes = ['pipeline_info/trace.txt', 'manifest.json'];
  t.ok(
    lastOnes.every((f) => files.includes(f)),
    'the run wrote its trace and manifest',
  );
  for (const rel of [...files.filter((f) => !lastOnes.includes(f)), ...lastOnes])
    await moto.s3.send(
      new PutObjectCommand({
        Bucket: out.bucket,
        Key: `${out.key}/${rel}`,
        Body: await readFile(path.join(outdir, rel)),
        ChecksumAlgorithm: 'SHA256',
      }),
    );

  // --- The run completes and its results are ingested from S3 (ingest verifies every output's size and checksum).
  const run = await waitFor('COMPLETED with results', 180_000, 1000, async () => {
    const r = (await get(`/runs/${runId}`)).json();
    if (['FAILED', 'CANCELLED'].includes(r.status)) throw new Error(`run ${r.status}: ${r.errorMessage}`);
    return r.status === 'COMPLETED' && r.resultsIngestedAt ? r : null;
  });
  t.equal(run.exitStatus, 0);
  t.ok(run.resultsIngestedAt, 'results ingested from S3');
  t.ok(run.delivery.eventsReceived > 0, "the plugin's events reached the API");

  // The manifest's checksums are the ones S3 holds for the uploaded objects.
  const manifest = JSON.parse(await readFile(path.join(outdir, 'manifest.json'), 'utf8')) as {
    outputs: { path: string; sha256: string; size: number }[];
  };
  t.ok(manifest.outputs.length > 0, `${manifest.outputs.length} outputs`);
  for (const o of manifest.outputs) {
    const attrs = await moto.s3.send(
      new GetObjectAttributesCommand({ Bucket: out.bucket, Key: `${out.key}/${o.path}`, ObjectAttributes: ['Checksum'] }),
    );
    const hex = Buffer.from(attrs.Checksum?.ChecksumSHA256 ?? '', 'base64').toString('hex');
    if (hex !== o.sha256) t.fail(`${o.path}: S3 holds SHA-256 ${hex}, the manifest says ${o.sha256}`);
  }
  const local0 = manifest.outputs[0]!;
  t.equal(
    createHash('sha256')
      .update(await readFile(path.join(outdir, local0.path)))
      .digest('hex'),
    local0.sha256,
  );

  // QC, integration and cells, as the UI asks for them.
  const samples = (await get(`/runs/${runId}/samples`)).json().items as {
    sample: string;
    cellsAfterQc: number;
    metrics: Record<string, unknown>;
  }[];
  t.ok(samples.length >= 2, `${samples.length} samples`);
  for (const s of samples) t.ok(s.cellsAfterQc > 0, `${s.sample} kept cells after QC`);
  t.equal((await get(`/runs/${runId}/integration`)).statusCode, 200);
  const cells = await get(`/runs/${runId}/cells?columns=umap_x,umap_y,leiden,sample`);
  t.equal(cells.statusCode, 200);
  t.equal(
    tableFromIPC(cells.rawPayload).numRows,
    samples.reduce((n, s) => n + s.cellsAfterQc, 0),
    'one Arrow row per cell kept',
  );
  const tasks = (await get(`/runs/${runId}/tasks?limit=1000`)).json();
  t.ok(
    tasks.items.length > 0 && tasks.items.every((x: { status: string }) => x.status === 'COMPLETED'),
    `${tasks.items.length} tasks, all COMPLETED`,
  );

  // The CLI printed the head job's CloudWatch lines, every one of them, and ended with the run.
  const code = await Promise.race([cliExit, sleep(60_000).then(() => 'still following')]);
  t.equal(code, 0, `the CLI ended with the run ${cliErr}`);
  const logged: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await moto.logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, nextToken: token }),
    );
    logged.push(...(page.events ?? []).map((e) => e.message ?? ''));
    if (!page.nextForwardToken || page.nextForwardToken === token) break;
    token = page.nextForwardToken;
  }
  t.same(logged, lines, "the job's stream holds Nextflow's output");
  t.same(cliOut.split('\n').filter(Boolean), lines, "the CLI printed the job's lines, each once, in order");
  t.comment(`pipeline ${Math.round((pipelineAt - pipelineStart) / 1000)} s, whole test ${Math.round((Date.now() - started) / 1000)} s`);
});
