// Runs the plugin fixture pipeline (test/fixtures/nf-plugin) with real Nextflow and reads its trace file.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nextflowBin, repoRoot } from '../../helpers/paths.js';

export const fixtureDir = path.join(repoRoot, 'test/fixtures/nf-plugin');
export const platformConfig = path.join(repoRoot, 'workflows/conf/platform.config');

export interface TraceRow {
  task_id: string;
  hash: string;
  name: string;
  process: string;
  status: string;
  exit: string;
  [field: string]: string;
}

export interface FixtureRun {
  code: number | null;
  out: string;
  wallMs: number;
  trace: TraceRow[];
}

export interface FixtureOptions {
  /** Pipeline params, e.g. { n: 3, sleep: 1 }. */
  params?: Record<string, string | number>;
  /** Extra config text (e.g. a scrna { } scope), written to <dir>/extra.config. */
  config?: string;
  /** Load the `platform` profile's config (the plugin); default true. */
  platform?: boolean;
  env?: Record<string, string>;
  resume?: boolean;
}

/** Runs the fixture in `dir` (the launch dir) and returns its exit code, output, wall time and trace rows. */
export async function runFixture(dir: string, opts: FixtureOptions = {}): Promise<FixtureRun> {
  const args = ['run', path.join(fixtureDir, 'main.nf'), '-ansi-log', 'false', '-c', path.join(fixtureDir, 'nextflow.config')];
  if (opts.platform ?? true) args.push('-c', platformConfig);
  if (opts.config) {
    await writeFile(path.join(dir, 'extra.config'), opts.config);
    args.push('-c', path.join(dir, 'extra.config'));
  }
  for (const [k, v] of Object.entries(opts.params ?? {})) args.push(`--${k}`, String(v));
  if (opts.resume) args.push('-resume');
  const env = { ...process.env, TZ: 'UTC', SCRNA_API_URL: '', SCRNA_API_TOKEN: '', SCRNA_RUN_ID: '', ...opts.env };
  const started = performance.now();
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(nextflowBin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, out }));
  });
  const wallMs = performance.now() - started;
  const traceFile = path.join(dir, 'trace.txt');
  return { code, out, wallMs, trace: existsSync(traceFile) ? await readTrace(traceFile) : [] };
}

export async function readTrace(file: string): Promise<TraceRow[]> {
  const [header, ...lines] = (await readFile(file, 'utf8')).trim().split('\n');
  const cols = (header ?? '').split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])) as TraceRow);
}

/** Waits until `cond` holds, polling every 50 ms, at most `ms`. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
