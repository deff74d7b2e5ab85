// Run lifecycle: validate and launch, follow the trace while running, finish (final trace import, results ingest),
// cancel, relaunch with -resume, and trace uploads.
import { randomUUID } from 'node:crypto';
import { DEFAULT_PROJECT, hashToken, newToken } from './auth.js';
import type { DataRoots } from './data-roots.js';
import { DomainError, type ErrorDetail } from './errors.js';
import type { RunNotifier } from './notifier.js';
import type { Launcher, ResultStore, Run, RunPatch, RunStatus } from './ports.js';
import { TERMINAL } from './ports.js';
import type { Repositories, TaskOutcome } from './repositories.js';
import type { ResultsService } from './results.js';
import { TraceFollower } from './trace-follower.js';
import { scanTrace, TraceParseError } from './trace-parser.js';
import type { LaunchValidator } from './validation.js';
import { checkTimeZone } from './values.js';

export interface RunRequest {
  params?: Record<string, unknown>;
  samplesheet?: string;
  profiles?: string[];
  name?: string;
  labels?: Record<string, string>;
  submitter?: string;
}

/** Profiles a client may ask for; the launcher adds its own (platform, and awsbatch on AWS). */
export const CLIENT_PROFILES = ['test', 'stub', 'local'];
export const LABEL_KEY = /^[A-Za-z0-9_.:/-]{1,63}$/;
// Set by the platform on the command line, not by the client's params.
const PLATFORM_PARAMS = ['input', 'outdir'];

export interface RunServiceDeps {
  repos: Pick<Repositories, 'runs' | 'tasks'>;
  launcher: Launcher;
  files: ResultStore;
  results: ResultsService;
  notifier: RunNotifier;
  validator: () => Promise<LaunchValidator>;
  /** Where samplesheet and param paths may point. */
  dataRoots: DataRoots;
  publicUrl: string;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
  /** How often a running run's trace file is re-imported (the live view until events arrive). */
  traceFollowMs?: number;
}

/** A QUEUED run older than this without a recorded launch was interrupted (launching takes seconds). */
const UNRECORDED_AFTER_MS = 60_000;

/** Labels a launcher attaches to what it starts (Batch job tags): run, submitter and project. */
function runTags(run: Run): Record<string, string> {
  const tags: Record<string, string> = { 'scrna:run-id': run.id };
  if (run.submitter) tags['scrna:submitter'] = run.submitter;
  if (run.labels.project) tags['scrna:project'] = run.labels.project;
  return tags;
}

const friendlyName = () => `run-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`;

/**
 * The status a trace file alone supports, its times from its tasks, and a message whenever the status is a guess.
 * A task whose last attempt ended the run fails it; a failure without an error_action (Nextflow's default columns
 * have none) fails it only when no task succeeded, since an ignored failure looks the same.
 */
export function inferredOutcome(o: TaskOutcome): [RunStatus, RunPatch] {
  const times = { startedAt: o.firstStart, completedAt: o.lastEnd };
  if (o.fatal > 0) return ['FAILED', { ...times, errorMessage: `${o.fatal} of ${o.tasks} tasks failed and ended the run` }];
  if (!o.undetermined) return ['COMPLETED', times];
  const note = `${o.undetermined} of ${o.tasks} tasks failed; the trace does not say whether they were ignored`;
  return [o.undetermined === o.tasks ? 'FAILED' : 'COMPLETED', { ...times, errorMessage: `${note} (status inferred from the trace file)` }];
}

export class RunService {
  private readonly followers = new Map<string, NodeJS.Timeout>();
  private readonly finishing = new Map<string, Promise<void>>();

  constructor(private readonly d: RunServiceDeps) {}

  /** Checks a request without side effects; returns errors and the command that would run. */
  async validate(req: RunRequest): Promise<{ valid: boolean; errors: ErrorDetail[]; command: string }> {
    const errors: ErrorDetail[] = [];
    const profiles = req.profiles ?? [];
    profiles.forEach((p, i) => {
      if (!CLIENT_PROFILES.includes(p))
        errors.push({ field: `profiles[${i}]`, message: `profile must be one of ${CLIENT_PROFILES.join(', ')}` });
    });
    for (const [k, v] of Object.entries(req.labels ?? {})) {
      if (!LABEL_KEY.test(k)) errors.push({ field: `labels.${k}`, message: 'label keys are 1-63 letters, digits or _.:/-' });
      if (typeof v !== 'string' || v.length > 255)
        errors.push({ field: `labels.${k}`, message: 'label values are strings of at most 255 characters' });
    }
    const params = req.params ?? {};
    for (const k of PLATFORM_PARAMS)
      if (k in params)
        errors.push({
          field: `params.${k}`,
          message: `${k} is set by the platform${k === 'input' ? ' (send the samplesheet text instead)' : ''}`,
        });
    const validator = await this.d.validator();
    const hasSheet = typeof req.samplesheet === 'string' && req.samplesheet.trim() !== '';
    const inputType = String(params.input_type ?? 'fastq');
    if (hasSheet) {
      const sheet = validator.validateSamplesheet(req.samplesheet!, inputType);
      errors.push(...sheet.errors, ...(await this.sheetPathErrors(validator.pathColumns(inputType), sheet.rows, sheet.lines)));
    } else if (!profiles.includes('test'))
      errors.push({ field: 'samplesheet', message: 'a samplesheet is required (or use the test profile)' });
    const effective = { ...params, input: hasSheet ? 'samplesheet.csv' : undefined, outdir: 'results' };
    if (!hasSheet) delete effective.input;
    errors.push(...validator.validateParams(effective, { inputProvided: hasSheet || profiles.includes('test') }));
    errors.push(...(await this.paramPathErrors(validator.pathParams(), params)));
    const command = this.d.launcher.command({ ...this.d.launcher.workspace('<run-id>'), profiles, resume: false, samplesheet: hasSheet });
    return { valid: errors.length === 0, errors, command: command.join(' ') };
  }

  /** Path params (by schema format) outside the data roots; the platform's own (input, outdir) are refused above. */
  private async paramPathErrors(names: string[], params: Record<string, unknown>): Promise<ErrorDetail[]> {
    const checked = names.filter((k) => !PLATFORM_PARAMS.includes(k) && typeof params[k] === 'string');
    const refusals = await Promise.all(checked.map((k) => this.d.dataRoots.refusal(params[k] as string)));
    return checked.flatMap((k, i) => (refusals[i] ? [{ field: `params.${k}`, message: `${k} ${refusals[i]}` }] : []));
  }

  /** Samplesheet cells of path columns (by schema format) outside the data roots, with their row, line and column. */
  private async sheetPathErrors(columns: string[], rows: Record<string, unknown>[], lines: number[]): Promise<ErrorDetail[]> {
    const cells = rows.flatMap((r, i) => columns.filter((c) => typeof r[c] === 'string').map((c) => ({ i, c, v: r[c] as string })));
    const refusals = await Promise.all(cells.map(({ v }) => this.d.dataRoots.refusal(v)));
    return cells.flatMap(({ i, c }, k) =>
      refusals[k] ? [{ field: 'samplesheet', row: i + 1, line: lines[i], column: c, message: `${c} ${refusals[k]}` }] : [],
    );
  }

  /**
   * Validates and launches into `project`; `owner` is the API token that submits it (null: anonymous on an open
   * install), kept for the record.
   */
  async create(req: RunRequest, owner: string | null = null, project: string = DEFAULT_PROJECT): Promise<Run> {
    const v = await this.validate(req);
    if (!v.valid) throw new DomainError('invalid', v.errors[0]!.message, { ...v.errors[0], errors: v.errors });
    const id = randomUUID();
    const token = newToken();
    const { launchDir, outdir } = this.d.launcher.workspace(id);
    const profiles = req.profiles ?? [];
    const run = await this.d.repos.runs.create({
      id,
      name: req.name?.trim() || friendlyName(),
      status: 'QUEUED',
      source: 'platform',
      submitter: req.submitter ?? null,
      owner,
      project,
      params: req.params ?? {},
      profiles,
      samplesheet: req.samplesheet ?? null,
      launcher: this.d.launcher.name,
      launchDir,
      outdir,
      tokenHash: hashToken(token),
      labels: req.labels ?? {},
    });
    return this.start(run, token, false);
  }

  private async start(run: Run, token: string, resume: boolean): Promise<Run> {
    const launchDir = run.launchDir!;
    const outdir = run.outdir!;
    const samplesheet = run.samplesheet?.trim() ? run.samplesheet : null;
    const cmd = this.d.launcher.command({ launchDir, outdir, profiles: run.profiles, resume, samplesheet: samplesheet !== null });
    try {
      const { nativeId } = await this.d.launcher.launch({
        runId: run.id,
        launchDir,
        outdir,
        profiles: run.profiles,
        params: run.params,
        samplesheet,
        resume,
        env: { SCRNA_API_URL: this.d.publicUrl, SCRNA_API_TOKEN: token, SCRNA_RUN_ID: run.id },
        tags: runTags(run),
        onExit: (code, signal, reason) => void this.finish(run.id, code, signal, reason),
        onRunning: () => void this.running(run.id),
      });
      await this.d.repos.runs.advance(run.id, 'SUBMITTED', { nativeId, commandLine: cmd.join(' '), startedAt: new Date().toISOString() });
      this.follow(run.id);
    } catch (e) {
      this.d.log.error({ err: e, runId: run.id }, 'launch failed');
      await this.d.repos.runs.advance(run.id, 'FAILED', {
        errorMessage: `launch failed: ${(e as Error).message}`,
        completedAt: new Date().toISOString(),
      });
    }
    this.d.notifier.changed(run.id);
    return (await this.d.repos.runs.get(run.id))!;
  }

  private traceUri(run: Run): string | null {
    return run.outdir ? this.d.files.join(run.outdir, 'pipeline_info/trace.txt') : null;
  }

  /**
   * Imports the rows the trace file gains while the run is active, until live events for the run arrive: from then
   * on events carry the tasks, and the final import at the end fills in what they lack.
   */
  private follow(runId: string): void {
    if (this.followers.has(runId)) return;
    let follower: TraceFollower | null = null;
    const stop = () => {
      clearInterval(this.followers.get(runId));
      this.followers.delete(runId);
    };
    const tick = async () => {
      const run = await this.d.repos.runs.get(runId);
      if (!run || TERMINAL.has(run.status) || run.delivery.eventsReceived > 0) return stop();
      const uri = this.traceUri(run);
      if (!uri) return;
      follower ??= new TraceFollower(this.d.files, uri);
      const rows = await follower.next();
      if (!rows) return;
      await this.d.repos.tasks.import(runId, scanTrace([rows])).catch((e) => this.d.log.warn({ err: e, runId }, 'trace follow'));
      this.d.notifier.changed(runId);
    };
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void tick().finally(() => {
        busy = false;
      });
    }, this.d.traceFollowMs ?? 2000);
    timer.unref();
    this.followers.set(runId, timer);
  }

  private async importTraceFile(runId: string, uri: string): Promise<number> {
    // A trace being written may end in a partial line: only whole lines are imported while following.
    const buf = await this.d.files.read(uri);
    const end = buf.lastIndexOf(10);
    if (end < 0) return 0;
    const r = await this.d.repos.tasks.import(runId, scanTrace([buf.subarray(0, end + 1)]));
    return r.rows;
  }

  /** The engine reports the run started (events may have said so already: advancing is forward only). */
  private async running(runId: string): Promise<void> {
    if (await this.d.repos.runs.advance(runId, 'RUNNING')) this.d.notifier.changed(runId);
  }

  /** The Nextflow process ended: last trace import, final status, results. */
  finish(runId: string, code: number | null, signal: string | null, reason?: string): Promise<void> {
    const existing = this.finishing.get(runId);
    if (existing) return existing;
    const p = this.doFinish(runId, code, signal, reason).finally(() => this.finishing.delete(runId));
    this.finishing.set(runId, p);
    return p;
  }

  private async doFinish(runId: string, code: number | null, signal: string | null, reason?: string): Promise<void> {
    const timer = this.followers.get(runId);
    if (timer) clearInterval(timer);
    this.followers.delete(runId);
    const run = await this.d.repos.runs.get(runId);
    if (!run) return;
    const uri = this.traceUri(run);
    if (uri && (await this.d.files.exists(uri)))
      await this.importTraceFile(runId, uri).catch((e) => this.d.log.warn({ err: e, runId }, 'final trace import'));
    const now = new Date().toISOString();
    if (code === 0) await this.d.repos.runs.advance(runId, 'COMPLETED', { exitStatus: 0, completedAt: now });
    else
      await this.d.repos.runs.advance(runId, 'FAILED', {
        exitStatus: code,
        completedAt: now,
        errorMessage:
          run.errorMessage ?? reason ?? (signal ? `nextflow ended by ${signal}` : `nextflow exited with status ${code ?? 'unknown'}`),
      });
    const after = await this.d.repos.runs.get(runId);
    if (after?.status === 'COMPLETED' && after.outdir && (await this.d.files.exists(this.d.files.join(after.outdir, 'manifest.json')))) {
      await this.d.results.ingest(runId).catch((e) => this.d.log.warn({ err: e, runId }, 'results ingest'));
    }
    this.d.log.info({ runId, code, signal, status: after?.status }, 'run finished');
    this.d.notifier.changed(runId);
  }

  async cancel(runId: string): Promise<Run> {
    const run = await this.d.repos.runs.get(runId);
    if (!run) throw new DomainError('not_found', 'run not found');
    if (TERMINAL.has(run.status)) throw new DomainError('conflict', `the run is already ${run.status}`);
    if (run.source !== 'platform' || !run.nativeId) {
      // Not started by this platform (or never launched): nothing to stop, record the decision.
      await this.d.repos.runs.advance(runId, 'CANCELLED', { completedAt: new Date().toISOString() });
    } else {
      await this.d.repos.runs.advance(runId, 'CANCELLED', { completedAt: new Date().toISOString(), errorMessage: 'cancelled by a user' });
      await this.d.launcher.cancel(run.nativeId);
    }
    this.d.notifier.changed(runId);
    return (await this.d.repos.runs.get(runId))!;
  }

  /** A new run in the same launch directory with -resume, so finished tasks come from the cache. */
  async relaunch(runId: string): Promise<Run> {
    const prev = await this.d.repos.runs.get(runId);
    if (!prev) throw new DomainError('not_found', 'run not found');
    if (prev.source !== 'platform' || !prev.launchDir)
      throw new DomainError('conflict', 'only runs launched by the platform can be relaunched');
    if (!TERMINAL.has(prev.status)) throw new DomainError('conflict', `the run is still ${prev.status}: cancel it first`);
    const token = newToken();
    const id = randomUUID();
    const run = await this.d.repos.runs.create({
      id,
      name: prev.name.replace(/( \(resumed( \d+)?\))?$/, ' (resumed)'),
      status: 'QUEUED',
      source: 'platform',
      submitter: prev.submitter,
      // Whoever relaunches (its project's token or an admin), the run stays in its project, its owner's.
      owner: prev.owner,
      project: prev.project,
      params: prev.params,
      profiles: prev.profiles,
      samplesheet: prev.samplesheet,
      launcher: this.d.launcher.name,
      launchDir: prev.launchDir,
      outdir: prev.outdir,
      tokenHash: hashToken(token),
      resumedFrom: prev.id,
      labels: prev.labels,
    });
    return this.start(run, token, true);
  }

  /** Runs this launcher started before the API restarted: follow them again, or finish them if they are gone. */
  async recover(): Promise<void> {
    for (const run of await this.d.repos.runs.active(this.d.launcher.name)) {
      if (!run.nativeId) continue;
      this.watch(run.id, run.nativeId);
    }
    await this.recoverUnrecorded();
  }

  private watch(runId: string, nativeId: string): void {
    this.d.launcher.watch(
      nativeId,
      (code, signal, reason) => void this.finish(runId, code, signal, reason),
      () => void this.running(runId),
    );
    this.follow(runId);
  }

  /**
   * Runs still QUEUED: the API stopped between creating the run and recording its launch. The launcher finds what
   * it started (its Nextflow holds the token; never a second one); a run it never started is launched now, with a
   * new token (only the old one's hash was kept).
   */
  private async recoverUnrecorded(): Promise<void> {
    // Younger runs may be mid-launch in another API process.
    const before = new Date(Date.now() - UNRECORDED_AFTER_MS).toISOString();
    let cursor: { createdAt: string; id: string } | undefined;
    for (let page = 0; page < 100; page++) {
      const { items } = await this.d.repos.runs.list({ status: ['QUEUED'], to: before, limit: 100, cursor });
      for (const run of items.filter((r) => r.launcher === this.d.launcher.name && r.source === 'platform' && !r.nativeId)) {
        const found = run.launchDir ? await this.d.launcher.find({ runId: run.id, launchDir: run.launchDir }) : null;
        if (found) {
          await this.d.repos.runs.advance(run.id, 'SUBMITTED', { nativeId: found.nativeId, startedAt: new Date().toISOString() });
          this.watch(run.id, found.nativeId);
        } else {
          const token = newToken();
          await this.d.repos.runs.setTokenHash(run.id, hashToken(token));
          this.d.log.warn({ runId: run.id }, 'launch interrupted by a restart: launching now');
          await this.start(run, token, run.resumedFrom !== null);
        }
        this.d.notifier.changed(run.id);
      }
      const last = items.at(-1);
      if (items.length < 100 || !last) break;
      cursor = { createdAt: last.createdAt, id: last.id };
    }
  }

  /** Imports a trace upload into a run; the whole file or nothing. */
  async importTrace(runId: string, body: AsyncIterable<Uint8Array | string>, timeZone = 'UTC'): Promise<{ rows: number }> {
    const tzError = checkTimeZone(timeZone);
    if (tzError) throw new DomainError('invalid', tzError, { field: 'timeZone' });
    if (!(await this.d.repos.runs.get(runId))) throw new DomainError('not_found', 'run not found');
    try {
      const r = await this.d.repos.tasks.import(runId, scanTrace(body, { timeZone }));
      this.d.notifier.changed(runId);
      return r;
    } catch (e) {
      if (e instanceof TraceParseError)
        throw new DomainError('invalid', e.message, { field: e.field ?? 'trace', line: e.line, column: e.column });
      throw e;
    }
  }

  /** A run the API never saw, reconstructed from its trace file. */
  async createFromTrace(
    body: AsyncIterable<Uint8Array | string>,
    opts: { name?: string; timeZone?: string; labels?: Record<string, string>; owner?: string | null; project?: string },
  ) {
    const tzError = checkTimeZone(opts.timeZone ?? 'UTC');
    if (tzError) throw new DomainError('invalid', tzError, { field: 'timeZone' });
    const id = randomUUID();
    const run = await this.d.repos.runs.create({
      id,
      name: opts.name?.trim() || `trace-${id.slice(0, 8)}`,
      status: 'RUNNING',
      source: 'trace',
      labels: opts.labels,
      owner: opts.owner ?? null,
      project: opts.project,
    });
    try {
      const r = await this.d.repos.tasks.import(id, scanTrace(body, { timeZone: opts.timeZone ?? 'UTC' }));
      await this.d.repos.runs.advance(id, ...inferredOutcome(await this.d.repos.tasks.outcome(id)));
      this.d.notifier.changed(id);
      return { run: (await this.d.repos.runs.get(id))!, rows: r.rows };
    } catch (e) {
      await this.d.repos.runs.delete(run.id);
      if (e instanceof TraceParseError)
        throw new DomainError('invalid', e.message, { field: e.field ?? 'trace', line: e.line, column: e.column });
      throw e;
    }
  }

  close(): void {
    for (const t of this.followers.values()) clearInterval(t);
    this.followers.clear();
  }
}
