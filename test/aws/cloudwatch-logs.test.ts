// The CloudWatch log source against moto (through a recording proxy). moto's docker-free Batch writes no log
// events, so the test writes the lines a job would have logged (CreateLogStream/PutLogEvents on the stream
// DescribeJobs names). Head job log in text and followed over SSE (also by `scrna logs --follow`); a task's log
// by its trace native_id; the S3 .command.log when the stream is gone; one poller for many viewers; throttling
// answered by polling less, never by an error.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DescribeJobsCommand, RegisterJobDefinitionCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import t from 'tap';
import { platformFor } from '../api/helpers.js';
import { repoRoot } from '../helpers/paths.js';
import { awsPlatform, motoPlatform, names, pointSdkAt, recordingProxy, until } from './aws.js';

const moto = await motoPlatform(t);
const proxy = await recordingProxy(t, moto.url);
pointSdkAt(proxy.url);

const p = await platformFor(t, awsPlatform());
await p.app.listen({ host: '127.0.0.1', port: 0 });
const api = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
const SHEET = `sample,batch,fastq_1,fastq_2,chemistry\npbmc1,b1,s3://${names.rawBucket}/l/p1_R1.fastq.gz,s3://${names.rawBucket}/l/p1_R2.fastq.gz,10xv3\n`;
const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: SHEET } })).json();

async function streamOf(jobId: string): Promise<string> {
  const job = (await moto.batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;
  return job.container!.logStreamName!;
}
async function writeLines(stream: string, lines: string[]) {
  const now = Date.now();
  await moto.logs.send(
    new PutLogEventsCommand({
      logGroupName: names.logGroup,
      logStreamName: stream,
      logEvents: lines.map((message, i) => ({ message, timestamp: now + i })),
    }),
  );
}
const getLogEvents = () => proxy.requests.filter((r) => r.target?.endsWith('.GetLogEvents')).length;
const headStream = await streamOf(run.nativeId);
await moto.logs.send(new CreateLogStreamCommand({ logGroupName: names.logGroup, logStreamName: headStream }));
await writeLines(headStream, ['N E X T F L O W  ~  version 24.10.8', 'Launching `/opt/scrna/pipeline/main.nf`']);

/** Reads an SSE log follow until `want` has arrived; returns all text and a way to wait for the end event. */
async function follow(url: string) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const lines = createInterface({ input: (await import('node:stream')).Readable.fromWeb(res.body as never) });
  const state = { text: '', ended: false, events: [] as string[] };
  const done = (async () => {
    let event = '';
    for await (const line of lines) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) {
        state.events.push(event);
        if (event === 'log') state.text += JSON.parse(line.slice(6)).text;
        if (event === 'end') state.ended = true;
      }
    }
  })();
  return { state, done };
}

t.test("the head job's log: text, followed over SSE and by the CLI while lines are written", async (t) => {
  const text = await p.app.inject({ url: `/api/v1/runs/${run.id}/log` });
  t.equal(text.statusCode, 200);
  t.equal(text.body, 'N E X T F L O W  ~  version 24.10.8\nLaunching `/opt/scrna/pipeline/main.nf`\n');
  t.equal(text.headers['x-log-offset'], '2', 'offsets count events');

  const viewer = await follow(`${api}/api/v1/runs/${run.id}/log?follow=true`);
  const cli = spawn(process.execPath, [path.join(repoRoot, 'api/bin/scrna.js'), 'logs', run.id, '--follow', '--url', api], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => cli.kill());
  const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
  let cliOut = '';
  cli.stdout.on('data', (d: Buffer) => {
    cliOut += d.toString();
  });
  await until('the first lines', async () => viewer.state.text.includes('Launching') && cliOut.includes('Launching'));
  await writeLines(headStream, ['executor >  awsbatch (1)', '[ab/cdef12] COUNT (pbmc1) [100%] 1 of 1 ✔']);
  await until('lines written after the viewers started', async () => viewer.state.text.includes('1 of 1 ✔') && cliOut.includes('1 of 1 ✔'));
  t.equal(viewer.state.text.split('\n').filter(Boolean).length, 4, 'each line once');
  t.equal(cliOut, viewer.state.text, 'the CLI printed the same lines');

  // The run ends: the follow ends too (CANCELLED here; moto's head job is waiting for artefacts).
  await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/cancel` });
  await viewer.done;
  t.ok(viewer.state.ended, 'end event');
  t.equal(await exited, 0, 'the CLI ends with the run');
});

t.test("a task's log by its Batch job id; the S3 .command.log when the stream is gone; nobody else's job", async (t) => {
  await moto.batch.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'nf-scrna-starsolo',
      type: 'container',
      containerProperties: { image: 'x', vcpus: 1, memory: 512 },
    }),
  );
  // A task job as Nextflow's awsbatch executor submits it: its command stages .command.run from the work dir.
  const taskJob = async (workdir: string) =>
    (
      await moto.batch.send(
        new SubmitJobCommand({
          jobName: 'nf-COUNT',
          jobQueue: names.taskQueue,
          jobDefinition: 'nf-scrna-starsolo',
          containerOverrides: {
            command: ['bash', '-o', 'pipefail', '-c', `trap "{ ret=$?; exit $ret; }" EXIT; aws s3 cp ${workdir}/.command.run - | bash`],
          },
        }),
      )
    ).jobId!;
  const work = `${run.launchDir}/work`;
  const withStream = await taskJob(`${work}/ab/cdef12`);
  const streamGone = await taskJob(`${work}/cd/ef3456`);
  const foreign = await taskJob(`s3://${names.workBucket}/runs/another-run/work/ef/012345`);
  const s = await streamOf(withStream);
  await moto.logs.send(new CreateLogStreamCommand({ logGroupName: names.logGroup, logStreamName: s }));
  await writeLines(s, ['STAR --runMode alignReads', 'finished successfully']);
  await moto.s3.send(
    new PutObjectCommand({ Bucket: names.workBucket, Key: `runs/${run.id}/work/cd/ef3456/.command.log`, Body: 'from the work dir\n' }),
  );
  const trace = [
    'task_id\thash\tnative_id\tname\tstatus\texit\tworkdir',
    `1\tab/cdef12\t${withStream}\tCOUNT (a)\tCOMPLETED\t0\t${work}/ab/cdef12`,
    `2\tcd/ef3456\t${streamGone}\tCOUNT (b)\tCOMPLETED\t0\t${work}/cd/ef3456`,
    `3\tef/012345\t${foreign}\tCOUNT (c)\tCOMPLETED\t0\t${work}/ef/012345`,
  ].join('\n');
  const imp = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/${run.id}/trace`,
    payload: `${trace}\n`,
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(imp.statusCode, 200, imp.body);

  const log = (task: number) => p.app.inject({ url: `/api/v1/runs/${run.id}/tasks/${task}/log` });
  t.equal((await log(1)).body, 'STAR --runMode alignReads\nfinished successfully\n');
  t.equal((await log(2)).body, 'from the work dir\n', 'no stream: the S3 copy');
  t.equal((await log(3)).statusCode, 404, "a job of another run's work dir is not this task's log");
});

t.test('many viewers share one poller; throttling slows polling and never reaches a viewer', async (t) => {
  const url = `/api/v1/runs/${run.id}/log`;
  // New lines put the poller back at its base interval (a quiet stream is polled less and less often).
  await writeLines(headStream, ['more work']);
  await until('the new line', async () => (await p.app.inject({ url })).body.includes('more work'));
  await new Promise((r) => setTimeout(r, 400));
  let before = getLogEvents();
  await p.app.inject({ url });
  const one = getLogEvents() - before;
  t.ok(one >= 1, 'a due read asks CloudWatch');
  await new Promise((r) => setTimeout(r, 400));
  before = getLogEvents();
  const many = await Promise.all(Array.from({ length: 8 }, () => p.app.inject({ url })));
  t.same(
    many.map((r) => r.statusCode),
    Array(8).fill(200),
  );
  t.equal(getLogEvents() - before, one, 'eight viewers at once cost what one does');

  proxy.fault = { match: (r) => Boolean(r.target?.endsWith('.GetLogEvents')), status: 400, code: 'ThrottlingException' };
  before = getLogEvents();
  const reads = 12;
  for (let i = 0; i < reads; i++) {
    const r = await p.app.inject({ url });
    t.equal(r.statusCode, 200, 'throttled: the viewer still gets what is known');
    await new Promise((r) => setTimeout(r, 120));
  }
  const throttled = getLogEvents() - before;
  // Every read would be due at the base interval; backing off leaves most of them without a request.
  t.ok(throttled < reads, `${throttled} GetLogEvents (with the SDK's retries) for ${reads} reads`);
  proxy.fault = null;
  await writeLines(headStream, ['after the throttling']);
  await until('lines after throttling', async () => (await p.app.inject({ url })).body.includes('after the throttling'));
});
