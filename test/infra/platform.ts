// Shared by the infra suites: the example config and one synthesis of the whole app per suite.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { parse } from 'yaml';
import { buildPlatform, type Platform } from '../../infra/src/app.js';
import { loadConfig, type PlatformConfig } from '../../infra/src/config.js';
import { repoRoot } from '../helpers/paths.js';

export const infraDir = path.join(repoRoot, 'infra');
export const exampleConfigFile = path.join(infraDir, 'config.yaml');
export const exampleConfig = (): PlatformConfig => loadConfig(exampleConfigFile);

/** The example config as a plain object, for tests that break one value. */
export async function exampleDocument(): Promise<Record<string, unknown>> {
  const { readFile } = await import('node:fs/promises');
  return parse(await readFile(exampleConfigFile, 'utf8')) as Record<string, unknown>;
}

export interface Synthesized {
  platform: Platform;
  outdir: string;
  templates: string[];
}

export function synthesize(config: PlatformConfig = exampleConfig()): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), 'scrna-cdk-'));
  const app = new App({ outdir });
  const platform = buildPlatform(config, app);
  const assembly = app.synth();
  return { platform, outdir, templates: assembly.stacks.map((s) => path.join(outdir, s.templateFile)) };
}
