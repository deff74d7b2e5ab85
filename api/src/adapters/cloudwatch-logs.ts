// LogSource on CloudWatch Logs: the head job's log (a run the Batch launcher started: its nativeId is the head job)
// and a task's log by its trace native_id (the Batch job Nextflow submitted), each found with DescribeJobs
// (container.logStreamName; group from logConfiguration, else the configured one). Batch merges stdout and stderr
// into one stream, so both task streams read it.
//
// Offsets are event counts: `read(ref, n)` returns the stream's events from the n-th on, one line each. One poller
// per stream, shared by every viewer, pages forward with nextForwardToken at most once per interval; the interval
// grows while the stream is quiet and on throttling (never an error for the viewer) and resets when lines arrive.
// When the stream is gone (retention, deleted), the copy on S3 is read instead, by byte offset: a task's
// .command.log in its work directory, or the .nextflow.log the head-node entrypoint saves in the launch prefix.
import type { BatchClient, JobDetail } from '@aws-sdk/client-batch';
import { DescribeJobsCommand } from '@aws-sdk/client-batch';
import { type CloudWatchLogsClient, paginateGetLogEvents, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import type { LogRef, LogSource, ResultStore, Run } from '../domain/ports.js';
import { TERMINAL } from '../domain/ports.js';

const MAX_PAGES = 10;
const MAX_LINES = 10_000;
const MAX_FALLBACK_BYTES = 1 << 20;
const TASK_ENDED = new Set(['COMPLETED', 'FAILED', 'ABORTED', 'CACHED']);
const BATCH_JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface CloudWatchLogOptions {
  batch: BatchClient;
  logs: CloudWatchLogsClient;
  /** Reads the S3 copies when a stream is gone. */
  files: ResultStore;
  /** The group when DescribeJobs names none (SCRNA_BATCH_LOG_GROUP, else Batch's /aws/batch/job). */
  defaultGroup: string;
  /** Shortest interval between two GetLogEvents calls of one stream. */
  pollMs: number;
  /** Longest interval (quiet stream, throttling). */
  maxPollMs?: number;
  /** A stream nobody read for this long is forgotten. */
  idleMs?: number;
  log: { warn(o: object, m?: string): void };
}

type Chunk = { text: string; offset: number; exists: boolean };

const isThrottle = (e: unknown) => {
  const name = (e as { name?: string }).name ?? '';
  return name === 'ThrottlingException' || name === 'LimitExceededException' || name === 'TooManyRequestsException';
};

/** One stream's lines so far and the token to page on from; fetches are single-flight and spaced by `interval`. */
class StreamPoller {
  readonly lines: string[] = [];
  gone = false;
  exists = false;
  lastRead = Date.now();
  private token: string | undefined;
  private nextAt = 0;
  private interval: number;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly o: Required<Pick<CloudWatchLogOptions, 'logs' | 'pollMs' | 'maxPollMs' | 'log'>>,
    private readonly group: string,
    private readonly stream: string,
  ) {
    this.interval = o.pollMs;
  }

  private ended = false;

  /**
   * Fetches what the stream gained if a fetch is due; viewers arriving meanwhile share it. Once the job has ended one
   * more fetch happens at once, so a follower that stops at the end has seen the last lines.
   */
  async ensure(jobEnded: boolean): Promise<void> {
    this.lastRead = Date.now();
    const last = jobEnded && !this.ended;
    if (last) this.ended = true;
    if (this.gone || (!last && Date.now() < this.nextAt)) return;
    // A fetch that began before the end may have missed the last lines: the final one starts after it.
    if (last && this.inflight) await this.inflight;
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = null;
    });
    await this.inflight;
  }

  private async fetch(): Promise<void> {
    const before = this.lines.length;
    try {
      const pages = paginateGetLogEvents(
        // The same token back means nothing new.
        { client: this.o.logs, stopOnSameToken: true },
        { logGroupName: this.group, logStreamName: this.stream, startFromHead: true, nextToken: this.token },
      );
      let n = 0;
      for await (const page of pages) {
        this.exists = true;
        for (const e of page.events ?? []) this.lines.push(e.message ?? '');
        this.token = page.nextForwardToken ?? this.token;
        if (++n >= MAX_PAGES) break;
      }
      // A quiet stream is asked less often, up to ten base intervals; new lines bring it back to the base.
      this.interval = this.lines.length > before ? this.o.pollMs : Math.min(this.o.maxPollMs, this.o.pollMs * 10, this.interval * 1.5);
    } catch (e) {
      if (e instanceof ResourceNotFoundException) {
        // Not created yet (job not started) or expired: a later read asks again, or falls back to S3.
        this.gone = this.exists;
        this.interval = Math.min(this.o.maxPollMs, this.interval * 2);
      } else {
        // Throttling (after the SDK's own retries) or an outage: read less often; the viewer just waits.
        if (!isThrottle(e)) this.o.log.warn({ err: e, group: this.group, stream: this.stream }, 'CloudWatch log read');
        this.interval = Math.min(this.o.maxPollMs, this.interval * 2);
      }
    }
    this.nextAt = Date.now() + this.interval;
  }
}

interface Located {
  group: string;
  stream: string;
  /** The job's command, which names the work directory of the run it belongs to. */
  command: string;
}

export class CloudWatchLogSource implements LogSource {
  private readonly pollers = new Map<string, StreamPoller>();
  private readonly jobs = new Map<string, { at: number; job: Located | null }>();
  private readonly opts: Required<CloudWatchLogOptions>;

  constructor(o: CloudWatchLogOptions) {
    this.opts = { maxPollMs: 30_000, idleMs: 120_000, ...o };
  }

  /** Stream and group of a Batch job; asked again at most once per poll interval while the job has none. */
  private async locate(jobId: string): Promise<Located | null> {
    const known = this.jobs.get(jobId);
    if (known && (known.job || Date.now() - known.at < this.opts.pollMs)) return known.job;
    let job: JobDetail | undefined;
    try {
      job = (await this.opts.batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
    } catch (e) {
      this.opts.log.warn({ err: e, jobId }, 'DescribeJobs for logs');
    }
    const container = job?.attempts?.at(-1)?.container?.logStreamName ? job.attempts.at(-1)!.container! : job?.container;
    const stream = container?.logStreamName;
    const located: Located | null = stream
      ? {
          stream,
          group: job?.container?.logConfiguration?.options?.['awslogs-group'] ?? this.opts.defaultGroup,
          command: (job?.container?.command ?? []).join(' '),
        }
      : null;
    this.jobs.set(jobId, { at: Date.now(), job: located });
    return located;
  }

  /** The Batch job behind a ref, when the platform can tie it to the run: never a job id a sender just named. */
  private async jobOf(ref: LogRef): Promise<Located | null> {
    const run = ref.run;
    if (run.source !== 'platform' || run.launcher !== 'awsbatch' || !run.launchDir) return null;
    if (ref.kind === 'run') return run.nativeId ? this.locate(run.nativeId) : null;
    const id = ref.task.native_id;
    if (typeof id !== 'string' || !BATCH_JOB_ID.test(id)) return null;
    const job = await this.locate(id);
    // Nextflow's task job command stages .command.run from the task's work directory, inside the run's.
    return job?.command.includes(`${run.launchDir}/work/`) ? job : null;
  }

  /** The S3 copy of a log: a task's .command.log inside the run's work prefix, or the run's saved .nextflow.log. */
  private fallbackUri(ref: LogRef): string | null {
    const run: Run = ref.run;
    if (run.source !== 'platform' || run.launcher !== 'awsbatch' || !run.launchDir) return null;
    if (ref.kind === 'run') return this.opts.files.join(run.launchDir, '.nextflow.log');
    const dir = ref.task.workdir;
    const base = `${run.launchDir}/work/`;
    if (typeof dir !== 'string' || !dir.startsWith(base) || dir.split('/').includes('..')) return null;
    return this.opts.files.join(dir, '.command.log');
  }

  private async fallback(ref: LogRef, offset: number): Promise<Chunk> {
    const uri = this.fallbackUri(ref);
    const size = uri ? await this.opts.files.size(uri) : null;
    if (!uri || size === null) return { text: '', offset, exists: false };
    const from = offset > size ? 0 : offset;
    const parts: Buffer[] = [];
    let n = 0;
    for await (const b of this.opts.files.stream(uri, from)) {
      parts.push(b);
      n += b.length;
      if (n >= MAX_FALLBACK_BYTES) break;
    }
    let buf = Buffer.concat(parts).subarray(0, MAX_FALLBACK_BYTES);
    // S3 copies are whole files; a chunk cut short ends at a line so no multi-byte character is split.
    const end = buf.lastIndexOf(10);
    if (from + buf.length < size && end >= 0) buf = buf.subarray(0, end + 1);
    return { text: buf.toString('utf8'), offset: from + buf.length, exists: true };
  }

  async read(ref: LogRef, offset: number): Promise<Chunk> {
    this.sweep();
    const job = await this.jobOf(ref);
    if (!job) return this.fallback(ref, offset);
    const key = `${job.group}\u0000${job.stream}`;
    let p = this.pollers.get(key);
    if (!p) {
      p = new StreamPoller(this.opts, job.group, job.stream);
      this.pollers.set(key, p);
    }
    await p.ensure(TERMINAL.has(ref.run.status) || (ref.kind === 'task' && TASK_ENDED.has(String(ref.task.status))));
    if (p.gone || !p.exists) {
      const f = await this.fallback(ref, offset);
      if (f.exists || p.gone) return f;
      return { text: '', offset, exists: false };
    }
    const from = Math.min(offset, p.lines.length);
    const lines = p.lines.slice(from, from + MAX_LINES);
    return { text: lines.map((l) => `${l}\n`).join(''), offset: from + lines.length, exists: true };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, p] of this.pollers) if (now - p.lastRead > this.opts.idleMs) this.pollers.delete(k);
    for (const [k, j] of this.jobs) if (now - j.at > this.opts.idleMs) this.jobs.delete(k);
  }
}
