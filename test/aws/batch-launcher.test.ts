// The Batch launcher against moto (container execution off: moto reports a job SUCCEEDED, or FAILED in its
// failure mode, as soon as it is submitted). The head job's queue, definition, command, environment, tags and
// staged inputs; Batch states reaching the run and the run finishing once its S3 artefacts are there; cancel as
// TerminateJob; a failed head job failing the run with its reason; an API restart between submit and record.
import { randomUUID } from 'node:crypto';
import { DescribeJobsCommand, ListJobsCommand } from '@aws-sdk/client-batch';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import t from 'tap';
import { awsClients } from '../../api/src/adapters/aws-clients.js';
import { BatchLauncher, headJobFailure, jobName } from '../../api/src/adapters/batch-launcher.js';
import { S3ResultStore } from '../../api/src/adapters/s3-results.js';
import { createPlatform } from '../../api/src/composition.js';
import { hashToken } from '../../api/src/domain/auth.js';
import { platformFor } from '../api/helpers.js';
import { awsPlatform, awsSettings, motoPlatform, names, pointSdkAt, recordingProxy, region, until } from './aws.js';

const moto = await motoPlatform(t);
const proxy = await recordingProxy(t, moto.url);
pointSdkAt(proxy.url);

const SHEET = `sample,batch,fastq_1,fastq_2,chemistry\npbmc1,b1,s3://${names.rawBucket}/l/p1_R1.fastq.gz,s3://${names.rawBucket}/l/p1_R2.fastq.gz,10xv3\n`;
const text = async (bucket: string, key: string) =>
  (await moto.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
const put = (bucket: string, key: string, body: string) => moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const describe = async (jobId: string) => (await moto.batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;
const TRACE = 'task_id\thash\tnative_id\tname\tstatus\texit\n1\tab/cdef12\t0c6e6f0e-0000-4000-8000-000000000001\tCOUNT (a)\tCOMPLETED\t0\n';

t.test('launch: one head job with the queue, definition, command, environment and tags; inputs staged in S3', async (t) => {
  const p = await platformFor(t, awsPlatform());
  const get = async (id: string) => (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
  const r = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs',
    payload: { samplesheet: SHEET, params: { genome: 'GRCh38' }, submitter: 'lims', labels: { project: 'atlas' }, name: 'batch' },
  });
  t.equal(r.statusCode, 201, r.body);
  const run = r.json();
  const launchDir = `s3://${names.workBucket}/runs/${run.id}`;
  const outdir = `s3://${names.resultsBucket}/runs/${run.id}`;
  t.match(run, { status: 'SUBMITTED', launchDir, outdir });

  const job = await describe(run.nativeId);
  t.equal(job.jobName, jobName(run.id));
  t.match(job.jobQueue, new RegExp(`:job-queue/${names.headQueue}$`));
  t.match(job.jobDefinition, new RegExp(`:job-definition/${names.headJobDefinition}:\\d+$`));
  t.same(job.container!.command, [
    'scrna-head-node',
    'nextflow',
    'run',
    '/opt/scrna/pipeline',
    '-profile',
    'awsbatch',
    '-c',
    '/opt/scrna/pipeline/workflows/conf/platform.config',
    '-params-file',
    'params.json',
    '--outdir',
    outdir,
    '-work-dir',
    `${launchDir}/work`,
    '--input',
    `${launchDir}/samplesheet.csv`,
  ]);
  t.equal(run.commandLine, job.container!.command!.join(' '), 'the recorded command is the submitted one');
  const env = Object.fromEntries(job.container!.environment!.map((e) => [e.name, e.value]));
  t.match(env, {
    SCRNA_RUN_ID: run.id,
    SCRNA_API_URL: p.config.publicUrl,
    SCRNA_LAUNCH_DIR: launchDir,
    SCRNA_OUTDIR: outdir,
    NXF_CLOUDCACHE_PATH: `${launchDir}/cache`,
  });
  t.equal(
    hashToken(env.SCRNA_API_TOKEN!),
    (await p.pool.query('SELECT token_hash FROM runs WHERE id = $1', [run.id])).rows[0].token_hash,
    "the job carries the run's own token",
  );
  t.same(job.tags, { 'scrna:run-id': run.id, 'scrna:submitter': 'lims', 'scrna:project': 'atlas' });
  t.same(job.timeout, { attemptDurationSeconds: 3600 });
  t.same(JSON.parse(await text(names.workBucket, `runs/${run.id}/params.json`)), { genome: 'GRCh38' });
  t.equal(await text(names.workBucket, `runs/${run.id}/samplesheet.csv`), SHEET);

  // moto reports the job SUCCEEDED at once: the run is running, and finishes only when its artefacts are in S3.
  await until('RUNNING', async () => (await get(run.id)).status === 'RUNNING');
  await put(names.resultsBucket, `runs/${run.id}/pipeline_info/trace.txt`, TRACE);
  await put(names.resultsBucket, `runs/${run.id}/manifest.json`, JSON.stringify({ schema_version: '1.0', samples: [], outputs: [] }));
  const done = await until('COMPLETED', async () => {
    const x = await get(run.id);
    return x.status === 'COMPLETED' && x.resultsIngestedAt ? x : null;
  });
  t.equal(done.exitStatus, 0);
  const tasks = (await p.app.inject({ url: `/api/v1/runs/${run.id}/tasks` })).json();
  t.equal(tasks.items[0].native_id, '0c6e6f0e-0000-4000-8000-000000000001', 'the final trace import came from S3');
  const listed = await moto.batch.send(
    new ListJobsCommand({ jobQueue: names.headQueue, filters: [{ name: 'JOB_NAME', values: [jobName(run.id)] }] }),
  );
  t.equal(listed.jobSummaryList!.length, 1, 'one head job');
});

t.test('cancel terminates the head job with a reason; relaunch submits a new head job with -resume', async (t) => {
  const p = await platformFor(t, awsPlatform());
  const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: SHEET } })).json();
  const c = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/cancel` });
  t.equal(c.statusCode, 200, c.body);
  t.equal(c.json().status, 'CANCELLED');
  t.ok(
    proxy.requests.some((r) => r.path.startsWith('/v1/terminatejob')),
    'TerminateJob was called',
  );
  t.equal((await describe(run.nativeId)).statusReason, 'cancelled by a user of the scrna platform');

  const again = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/relaunch` });
  t.equal(again.statusCode, 201, again.body);
  const next = again.json();
  t.not(next.nativeId, run.nativeId);
  const job = await describe(next.nativeId);
  t.equal(job.container!.command!.at(-1), '-resume');
  t.equal(next.launchDir, run.launchDir, 'same launch prefix, so the same cache');
  t.ok(
    job.container!.environment!.some((e) => e.name === 'NXF_CLOUDCACHE_PATH' && e.value === `${run.launchDir}/cache`),
    'against the original cache',
  );
});

t.test('a failed head job fails the run with its reason', async (t) => {
  // A second moto in its failure mode: every job it is given FAILS at once.
  const failing = await motoPlatform(t, { env: { MOTO_SIMPLE_BATCH_FAIL_AFTER: '0' } });
  pointSdkAt(failing.url);
  t.teardown(() => pointSdkAt(proxy.url));
  const p = await platformFor(t, awsPlatform());
  const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: SHEET } })).json();
  const failed = await until('FAILED', async () => {
    const x = (await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json();
    return x.status === 'FAILED' ? x : null;
  });
  t.match(failed.errorMessage, `the head job failed (job ${run.nativeId})`);
});

// DescribeJobs as AWS answers for a FAILED job (the fields every JobDetail has).
const failedJob = { jobName: 'scrna-x', jobQueue: 'q', jobDefinition: 'd', status: 'FAILED' as const, startedAt: 0 };

t.test('the run error names the reason, container reason and exit code; a reclaimed host says so', async (t) => {
  t.same(
    headJobFailure({
      ...failedJob,
      jobId: 'j1',
      statusReason: 'Essential container in task exited',
      attempts: [{ container: { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' } }],
    }),
    {
      code: 137,
      reason:
        'the head job failed: Essential container in task exited (job j1, container: OutOfMemoryError: Container killed due to memory usage, exit code 137)',
    },
  );
  t.match(
    headJobFailure({ ...failedJob, jobId: 'j2', statusReason: 'Host EC2 (instance i-0abc) terminated.' }).reason,
    /^the head job's instance was reclaimed/,
  );
});

t.test('an API restart between submit and record leaves exactly one head job, adopted by the run', async (t) => {
  const a = await platformFor(t, awsPlatform());
  const id = randomUUID();
  const ws = { launchDir: `s3://${names.workBucket}/runs/${id}`, outdir: `s3://${names.resultsBucket}/runs/${id}` };
  await a.repos.runs.create({ id, name: 'interrupted', status: 'QUEUED', source: 'platform', launcher: 'awsbatch', ...ws, profiles: [] });
  // The launch the first API made before it stopped: submitted, never recorded.
  const clients = awsClients(region);
  const launcher = new BatchLauncher({
    ...awsSettings(),
    batch: clients.batch,
    s3: clients.s3,
    files: new S3ResultStore(clients.s3),
    headQueue: names.headQueue,
    headJobDefinition: names.headJobDefinition,
    workBucket: names.workBucket,
    resultsBucket: names.resultsBucket,
    pollMs: 60_000,
    graceMs: 60_000,
    timeoutSeconds: 3600,
    log: { warn: () => {} },
  });
  t.teardown(() => launcher.close());
  const spec = { ...ws, runId: id, profiles: [], params: {}, samplesheet: null, resume: false, env: {}, onExit: () => {} };
  const first = await launcher.launch(spec);
  t.same(await launcher.launch(spec), first, 'launching the run again finds its job instead of submitting another');
  // Old enough to be an interrupted launch rather than one in progress elsewhere.
  const db = new pg.Client({ connectionString: a.databaseUrl });
  await db.connect();
  await db.query(`UPDATE runs SET created_at = now() - interval '5 minutes' WHERE id = $1`, [id]);
  await db.end();

  const b = await createPlatform({ ...a.config, databaseUrl: a.databaseUrl }, { recover: true });
  t.teardown(() => b.close());
  const run = await b.repos.runs.get(id);
  t.match(run, { nativeId: first.nativeId });
  t.not(run?.status, 'QUEUED');
  const listed = await moto.batch.send(
    new ListJobsCommand({ jobQueue: names.headQueue, filters: [{ name: 'JOB_NAME', values: [jobName(id)] }] }),
  );
  t.equal(listed.jobSummaryList!.length, 1, 'exactly one head job');
});
