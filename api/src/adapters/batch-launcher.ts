// Launcher on AWS Batch: stages a run's params and samplesheet under its S3 launch prefix and submits one Nextflow
// head job (containers/head-node) to the on-demand head queue. One DescribeJobs call per 100 watched jobs per poll
// maps Batch states onto the run; a terminal head job is reconciled with the run's S3 artefacts within a grace
// period (on AWS the head job ends after Nextflow wrote them; a compatible server may report it ended at once).
import {
  type BatchClient,
  DescribeJobsCommand,
  type JobDetail,
  paginateListJobs,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CommandSpec, ExitHandler, Launcher, LaunchSpec, ResultStore, Workspace } from '../domain/ports.js';
import { parseS3 } from './aws-clients.js';

/** Where the head-node image has the pipeline and the plugin config (containers/head-node/Dockerfile). */
export const HEAD_PIPELINE = '/opt/scrna/pipeline';
/** The image's entrypoint: fetches the staged inputs, runs its arguments, saves history and log (head-node.sh). */
export const HEAD_ENTRYPOINT = 'scrna-head-node';
const PARAMS_FILE = 'params.json';
const SHEET_FILE = 'samplesheet.csv';
const DESCRIBE_MAX = 100;
const TERMINAL_JOB = new Set(['SUCCEEDED', 'FAILED']);

export interface BatchLauncherOptions {
  batch: BatchClient;
  s3: S3Client;
  /** Reads the run's artefacts when its head job ends. */
  files: ResultStore;
  headQueue: string;
  headJobDefinition: string;
  workBucket: string;
  resultsBucket: string;
  pollMs: number;
  graceMs: number;
  timeoutSeconds: number;
  log: { warn(o: object, m?: string): void };
}

interface Watched {
  onExit: ExitHandler;
  onRunning?: () => void;
  running: boolean;
  /** Set once the job is terminal: until when its artefacts are waited for. */
  settleBy?: number;
  job?: JobDetail;
}

export const jobName = (runId: string) => `scrna-${runId}`;

const envOf = (job: JobDetail, name: string) => job.container?.environment?.find((e) => e.name === name)?.value;

/** A FAILED head job's statusReason, container reason and exit code as the run's error; a host reclaim says so. */
export function headJobFailure(job: JobDetail): { code: number | null; reason: string } {
  const container = job.attempts?.at(-1)?.container ?? job.container;
  const status = job.statusReason ?? job.attempts?.at(-1)?.statusReason;
  const code = container?.exitCode ?? job.container?.exitCode ?? null;
  const reclaimed = /^Host EC2 .*terminated|spot/i.test(status ?? '');
  const head = reclaimed
    ? `the head job's instance was reclaimed (spot or EC2 host terminated): ${status}`
    : `the head job failed${status ? `: ${status}` : ''}`;
  const details = [`job ${job.jobId}`, container?.reason && `container: ${container.reason}`, code !== null && `exit code ${code}`];
  return { code, reason: `${head} (${details.filter(Boolean).join(', ')})` };
}

export class BatchLauncher implements Launcher {
  readonly name = 'awsbatch';
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly o: BatchLauncherOptions) {}

  workspace(runId: string): Workspace {
    return { launchDir: `s3://${this.o.workBucket}/runs/${runId}`, outdir: `s3://${this.o.resultsBucket}/runs/${runId}` };
  }

  command(spec: CommandSpec): string[] {
    return [
      HEAD_ENTRYPOINT,
      'nextflow',
      'run',
      HEAD_PIPELINE,
      '-profile',
      ['awsbatch', ...spec.profiles].join(','),
      '-c',
      `${HEAD_PIPELINE}/workflows/conf/platform.config`,
      // Fetched from the launch prefix by the entrypoint; Nextflow reads the samplesheet from S3 itself.
      '-params-file',
      PARAMS_FILE,
      '--outdir',
      spec.outdir,
      '-work-dir',
      `${spec.launchDir}/work`,
      ...(spec.samplesheet ? ['--input', `${spec.launchDir}/${SHEET_FILE}`] : []),
      ...(spec.resume ? ['-resume'] : []),
    ];
  }

  private async stage(launchDir: string, name: string, body: string): Promise<void> {
    const { bucket, key } = parseS3(`${launchDir}/${name}`);
    await this.o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256' }));
  }

  async launch(spec: LaunchSpec): Promise<{ nativeId: string }> {
    await this.stage(spec.launchDir, PARAMS_FILE, JSON.stringify(spec.params, null, 2));
    if (spec.samplesheet !== null) await this.stage(spec.launchDir, SHEET_FILE, spec.samplesheet);
    // A head job already submitted for this run (the API stopped before recording it) is the run's job.
    const existing = await this.find(spec);
    if (existing) {
      this.watch(existing.nativeId, spec.onExit, spec.onRunning);
      return existing;
    }
    const environment = {
      ...spec.env,
      SCRNA_LAUNCH_DIR: spec.launchDir,
      SCRNA_OUTDIR: spec.outdir,
      // -resume across head jobs: the cache lives with the launch prefix, which a relaunch shares.
      NXF_CLOUDCACHE_PATH: `${spec.launchDir}/cache`,
    };
    const out = await this.o.batch.send(
      new SubmitJobCommand({
        jobName: jobName(spec.runId),
        jobQueue: this.o.headQueue,
        jobDefinition: this.o.headJobDefinition,
        containerOverrides: {
          command: this.command({ ...spec, samplesheet: spec.samplesheet !== null }),
          environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
        },
        tags: spec.tags,
        propagateTags: true,
        timeout: { attemptDurationSeconds: this.o.timeoutSeconds },
      }),
    );
    this.watch(out.jobId!, spec.onExit, spec.onRunning);
    return { nativeId: out.jobId! };
  }

  async find({ runId }: { runId: string }): Promise<{ nativeId: string } | null> {
    let newest: { id: string; at: number } | null = null;
    // A JOB_NAME filter lists jobs in every state.
    const pages = paginateListJobs(
      { client: this.o.batch },
      { jobQueue: this.o.headQueue, filters: [{ name: 'JOB_NAME', values: [jobName(runId)] }] },
    );
    for await (const page of pages)
      for (const j of page.jobSummaryList ?? [])
        if (j.jobName === jobName(runId) && j.jobId && (!newest || (j.createdAt ?? 0) > newest.at))
          newest = { id: j.jobId, at: j.createdAt ?? 0 };
    return newest ? { nativeId: newest.id } : null;
  }

  async cancel(nativeId: string): Promise<void> {
    await this.o.batch.send(new TerminateJobCommand({ jobId: nativeId, reason: 'cancelled by a user of the scrna platform' }));
  }

  async isAlive(nativeId: string): Promise<boolean> {
    const { jobs } = await this.o.batch.send(new DescribeJobsCommand({ jobs: [nativeId] }));
    const status = jobs?.[0]?.status;
    return status !== undefined && !TERMINAL_JOB.has(status);
  }

  watch(nativeId: string, onExit: ExitHandler, onRunning?: () => void): void {
    if (!this.watched.has(nativeId)) this.watched.set(nativeId, { onExit, onRunning, running: false });
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.poll()
        .catch((e) => this.o.log.warn({ err: e }, 'batch status poll'))
        .finally(() => {
          this.busy = false;
        });
    }, this.o.pollMs);
    this.timer.unref();
  }

  /** One DescribeJobs per 100 active jobs, then the artefact checks of jobs that have ended. */
  private async poll(): Promise<void> {
    const active = [...this.watched].filter(([, w]) => w.settleBy === undefined).map(([id]) => id);
    for (let i = 0; i < active.length; i += DESCRIBE_MAX) {
      const ids = active.slice(i, i + DESCRIBE_MAX);
      const { jobs = [] } = await this.o.batch.send(new DescribeJobsCommand({ jobs: ids }));
      const seen = new Set(jobs.map((j) => j.jobId));
      for (const id of ids.filter((x) => !seen.has(x))) this.exit(id, null, `the head job ${id} is not known to AWS Batch (expired?)`);
      for (const job of jobs) this.observe(job);
    }
    for (const [id, w] of this.watched) if (w.settleBy !== undefined) await this.settle(id, w);
  }

  private observe(job: JobDetail): void {
    const w = this.watched.get(job.jobId!);
    if (!w) return;
    if ((job.status === 'RUNNING' || TERMINAL_JOB.has(job.status!)) && !w.running) {
      w.running = true;
      w.onRunning?.();
    }
    if (job.status === 'FAILED') {
      const { code, reason } = headJobFailure(job);
      this.exit(job.jobId!, code, reason);
    } else if (job.status === 'SUCCEEDED') {
      w.job = job;
      w.settleBy = Date.now() + this.o.graceMs;
    }
  }

  /** A succeeded head job's run is finished once its trace and manifest are in the outdir, or the grace is over. */
  private async settle(id: string, w: Watched): Promise<void> {
    const outdir = envOf(w.job!, 'SCRNA_OUTDIR');
    const manifest = outdir ? this.o.files.join(outdir, 'manifest.json') : null;
    const trace = outdir ? this.o.files.join(outdir, 'pipeline_info/trace.txt') : null;
    if (manifest && trace && (await this.o.files.exists(manifest)) && (await this.o.files.exists(trace))) return this.exit(id, 0);
    if (Date.now() >= w.settleBy!)
      this.exit(
        id,
        null,
        `the head job ${id} succeeded but ${manifest ?? 'its outdir'} did not appear within ${Math.round(this.o.graceMs / 1000)} s`,
      );
  }

  private exit(id: string, code: number | null, reason?: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    this.watched.delete(id);
    w.onExit(code, null, reason);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watched.clear();
  }
}
