// Locations every suite needs: the repository root, the project cache and the shared real data.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheDir = process.env.SCRNA_CACHE ?? path.join(repoRoot, '.cache');
export const nextflowBin = path.join(repoRoot, 'scripts/nextflow/nextflow');
/** The analysis venv; SCRNA_VENV selects another copy, as workflows/conf/base.config does for tasks. */
export const venvPython = path.join(process.env.SCRNA_VENV ?? path.join(cacheDir, 'venv'), 'bin/python');
/** Real 10x datasets shipped beside the repository (see ../shared/data/README.md). */
export const sharedData =
  process.env.SCRNA_SHARED_DATA ??
  [path.resolve(repoRoot, '../shared/data'), '/work/shared/data'].find((d) => existsSync(d)) ??
  '../shared/data';
export const artifactsDir = path.join(repoRoot, 'test-artifacts');
