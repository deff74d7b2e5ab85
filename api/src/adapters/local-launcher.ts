// Launcher that runs `nextflow run` as a child process in the run's launch directory. The child leads its own
// process group (so cancel reaches its tasks) and survives an API restart; its exit status is written to a file
// so a restarted API can still tell how it ended.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandSpec, Launcher, LaunchSpec, Workspace } from '../domain/ports.js';

const EXIT_FILE = '.scrna-exitcode';
/** Written the moment Nextflow is spawned, per run: a restarted API finds a launch it never got to record. */
const pidFile = (launchDir: string, runId: string) => path.join(launchDir, `.scrna-run-${runId}.pid`);
const PARAMS_FILE = 'params.json';
const SHEET_FILE = 'samplesheet.csv';

export class LocalLauncher implements Launcher {
  readonly name = 'local';
  private readonly watchers = new Map<string, NodeJS.Timeout>();

  constructor(
    /** Launch directories go under <dataDir>/runs/<runId>/. */
    private readonly dataDir: string,
    private readonly nextflow: string,
    private readonly pipeline: string,
    /** Config that loads the nf-scrna plugin (workflows/conf/platform.config), passed with -c (see api/README.md). */
    private readonly platformConfig: string | null,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  workspace(runId: string): Workspace {
    const launchDir = path.join(this.dataDir, 'runs', runId);
    return { launchDir, outdir: path.join(launchDir, 'results') };
  }

  command(spec: CommandSpec): string[] {
    return [
      'nextflow',
      'run',
      this.pipeline,
      ...(spec.profiles.length ? ['-profile', spec.profiles.join(',')] : []),
      // A `plugins {}` block is only allowed at the top of a config, so the plugin config goes in with -c.
      ...(this.platformConfig ? ['-c', this.platformConfig] : []),
      '-params-file',
      path.join(spec.launchDir, PARAMS_FILE),
      '--outdir',
      spec.outdir,
      '-work-dir',
      path.join(spec.launchDir, 'work'),
      ...(spec.samplesheet ? ['--input', path.join(spec.launchDir, SHEET_FILE)] : []),
      ...(spec.resume ? ['-resume'] : []),
    ];
  }

  async launch(spec: LaunchSpec): Promise<{ nativeId: string }> {
    await mkdir(spec.launchDir, { recursive: true });
    await writeFile(path.join(spec.launchDir, PARAMS_FILE), JSON.stringify(spec.params, null, 2));
    if (spec.samplesheet !== null) await writeFile(path.join(spec.launchDir, SHEET_FILE), spec.samplesheet);
    const [, ...args] = this.command({ ...spec, samplesheet: spec.samplesheet !== null });
    const log = openSync(path.join(spec.launchDir, 'nextflow.stdout'), 'a');
    // sh records the exit status next to the run, then exits with it.
    const child = spawn('sh', ['-c', `"$0" "$@"; s=$?; echo $s > ${EXIT_FILE}; exit $s`, this.nextflow, ...args], {
      cwd: spec.launchDir,
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...this.extraEnv, ...spec.env, NXF_ANSI_LOG: 'false', TZ: 'UTC' },
    });
    closeSync(log);
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid!));
    });
    writeFileSync(pidFile(spec.launchDir, spec.runId), String(pid));
    child.once('exit', (code, signal) => spec.onExit(code, signal));
    child.unref();
    return { nativeId: `${pid}@${spec.launchDir}` };
  }

  async find(run: { runId: string; launchDir: string }): Promise<{ nativeId: string } | null> {
    const text = await readFile(pidFile(run.launchDir, run.runId), 'utf8').catch(() => null);
    return text === null ? null : { nativeId: `${Number(text.trim())}@${run.launchDir}` };
  }

  private parse(nativeId: string): { pid: number; dir: string } {
    const at = nativeId.indexOf('@');
    return { pid: Number(nativeId.slice(0, at)), dir: nativeId.slice(at + 1) };
  }

  async cancel(nativeId: string): Promise<void> {
    const { pid } = this.parse(nativeId);
    try {
      // Nextflow handles SIGTERM by stopping its tasks and writing the trace of what ran.
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  async isAlive(nativeId: string): Promise<boolean> {
    try {
      process.kill(this.parse(nativeId).pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  watch(nativeId: string, onExit: LaunchSpec['onExit']): void {
    if (this.watchers.has(nativeId)) return;
    const t = setInterval(async () => {
      if (await this.isAlive(nativeId)) return;
      clearInterval(t);
      this.watchers.delete(nativeId);
      const text = await readFile(path.join(this.parse(nativeId).dir, EXIT_FILE), 'utf8').catch(() => null);
      onExit(text === null ? null : Number(text.trim()), null);
    }, 1000);
    t.unref();
    this.watchers.set(nativeId, t);
  }

  close(): void {
    for (const t of this.watchers.values()) clearInterval(t);
    this.watchers.clear();
  }
}
