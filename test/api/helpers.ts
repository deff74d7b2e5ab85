// A platform (API + repositories) on a fresh database with fixture pipeline schemas, checked responses and a teardown
// that fails the test if any response did not match its declared schema. `pool` is the test's own connection to that
// database, for the SQL a test checks rows with (the platform exposes only its repositories).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Test } from 'tap';
import { createPlatform, type Platform } from '../../api/src/composition.js';
import { type Config, loadConfig } from '../../api/src/config.js';
import { hashToken } from '../../api/src/domain/auth.js';
import { freshDatabase } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';

export const fixtures = path.join(repoRoot, 'test/api/fixtures');

export async function platformFor(
  t: Test,
  overrides: Partial<Config> = {},
): Promise<Platform & { dataDir: string; pool: pg.Pool; config: Config }> {
  const db = await freshDatabase('api');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'scrna-api-'));
  const config: Config = {
    ...loadConfig({ ...process.env, DATABASE_URL: db.url, SCRNA_ADMIN_TOKEN: '' }),
    dataDir,
    workflowsDir: path.join(fixtures, 'workflows'),
    uiBuildDir: path.join(dataDir, 'no-ui'),
    ...overrides,
  };
  const p = await createPlatform(config, { checkResponses: true, recover: false });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  t.teardown(async () => {
    const violations = p.app.responseViolations;
    await p.close();
    await pool.end();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    // Assertions cannot run in a teardown; an error there fails the test all the same.
    if (violations.length) throw new Error(`responses that do not match their declared schema: ${JSON.stringify(violations, null, 1)}`);
  });
  return { ...p, dataDir, pool, config };
}

/** A platform run that holds `runToken` as its per-run token, as POST /runs would leave it (without launching). */
export async function platformRunWithToken(p: Platform, runToken: string, status: 'SUBMITTED' | 'RUNNING' = 'SUBMITTED') {
  return p.repos.runs.create({ id: crypto.randomUUID(), name: 'launched', status, source: 'platform', tokenHash: hashToken(runToken) });
}
