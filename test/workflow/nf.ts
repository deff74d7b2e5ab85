// Shared by the workflow suites: run the real pipeline in a throw-away launch dir, read its outputs.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { type ExecResult, run } from '../helpers/exec.js';
import { nextflowBin, repoRoot, venvPython } from '../helpers/paths.js';

export interface NfRun extends ExecResult {
  dir: string;
  outdir: string;
  seconds: number;
  cleanup(): Promise<void>;
}

/** Nextflow's warning for a `params.x` read that no config declares (every schema parameter must be declared). */
export const UNDEFINED_PARAM = /Access to undefined parameter `([^`]+)`/g;

/** The parameters a run's output or `.nextflow.log` says were read without being declared. */
export async function undefinedParams(dir: string, output: string): Promise<string[]> {
  const log = await readFile(path.join(dir, '.nextflow.log'), 'utf8').catch(() => '');
  return [...new Set([...`${output}\n${log}`.matchAll(UNDEFINED_PARAM)].map((m) => m[1] ?? ''))];
}

/**
 * `nextflow run <repo> ...args --outdir <tmp>/results` in a fresh launch directory (or `opts.dir`, to reuse its work
 * directory with `-resume`). Every run of every suite fails on an undefined-parameter warning in its output or log.
 */
export async function nextflow(args: string[], prefix = 'nf-', opts: { dir?: string; outdir?: string } = {}): Promise<NfRun> {
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), prefix)));
  const outdir = opts.outdir ?? path.join(dir, 'results');
  const t0 = Date.now();
  const r = await run(nextflowBin, ['run', repoRoot, ...args, '--outdir', outdir], { cwd: dir });
  const undefinedNames = await undefinedParams(dir, r.stdout + r.stderr);
  if (undefinedNames.length)
    throw new Error(`nextflow ${args.join(' ')}: undefined parameter(s) ${undefinedNames.join(', ')}; declare them in nextflow.config`);
  return { ...r, dir, outdir, seconds: (Date.now() - t0) / 1000, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function readJson<T = Record<string, unknown>>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

export async function readText(file: string): Promise<string> {
  const buf = await readFile(file);
  return (file.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Column sums (UMIs per barcode) of a 10x MTX directory, keyed by barcode. */
export async function umisPerBarcode(mtxDir: string): Promise<Map<string, number>> {
  const barcodes = (await readText(path.join(mtxDir, 'barcodes.tsv.gz'))).trim().split('\n');
  const sums = new Float64Array(barcodes.length);
  const lines = (await readText(path.join(mtxDir, 'matrix.mtx.gz'))).split('\n');
  let header = true;
  for (const line of lines) {
    if (!line || line.startsWith('%')) continue;
    if (header) {
      header = false;
      continue;
    }
    const [, col, value] = line.split(' ');
    const i = Number(col) - 1;
    sums[i] = (sums[i] ?? 0) + Number(value);
  }
  return new Map(barcodes.map((b, i) => [b, sums[i] ?? 0]));
}

/** JSON Schema 2020-12 validator that accepts the nf-core annotation keywords and path formats our schemas use. */
export function schemaValidator(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  for (const f of ['file-path', 'directory-path', 'path']) ajv.addFormat(f, true);
  ajv.addVocabulary(['help_text', 'fa_icon', 'hidden', 'mimetype', 'schema']);
  return ajv;
}

/** Runs a Python snippet in the analysis venv and parses its JSON stdout. */
export async function python<T>(code: string, args: string[] = []): Promise<T> {
  const r = await run(venvPython, ['-c', code, ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as T;
}

export function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] ?? 0) - mx;
    const dy = (y[i] ?? 0) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

export const schemaPath = (rel: string) => path.join(repoRoot, 'workflows', rel);

/** Writes a samplesheet into a fresh temp dir; returns its path and a cleanup. */
export async function tempSheet(csv: string): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-sheet-'));
  const file = path.join(dir, 'samples.csv');
  await writeFile(file, csv.endsWith('\n') ? csv : `${csv}\n`);
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
