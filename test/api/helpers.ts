// A platform (API + store) on a fresh database with fixture pipeline schemas, checked responses and a teardown
// that fails the test if any response did not match its declared schema.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { createPlatform, type Platform } from '../../api/src/composition.js';
import { type Config, loadConfig } from '../../api/src/config.js';
import { freshDatabase } from '../helpers/db.js';
import { repoRoot } from '../helpers/paths.js';

export const fixtures = path.join(repoRoot, 'test/api/fixtures');

export async function platformFor(t: Test, overrides: Partial<Config> = {}): Promise<Platform & { dataDir: string; config: Config }> {
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
  t.teardown(async () => {
    const violations = p.app.responseViolations;
    await p.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    // Assertions cannot run in a teardown; an error there fails the test all the same.
    if (violations.length) throw new Error(`responses that do not match their declared schema: ${JSON.stringify(violations, null, 1)}`);
  });
  return { ...p, dataDir, config };
}
