// The real API (fresh Postgres database, local launcher) on a loopback port, serving the built UI: the server side
// of the browser tests that go through the whole platform.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { createPlatform, type Platform } from '../../api/src/composition.js';
import { type Config, loadConfig } from '../../api/src/config.js';
import { freshDatabase } from '../helpers/db.js';
import { launchBrowser } from './browser.js';
import { uiBuild } from './fixtures.js';

export interface E2EPlatform {
  base: string;
  platform: Platform;
  dataDir: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startPlatform(name: string, overrides: Partial<Config> = {}): Promise<E2EPlatform> {
  const db = await freshDatabase(name);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `scrna-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = loadConfig({ ...process.env, DATABASE_URL: db.url, SCRNA_ADMIN_TOKEN: '' });
  const platform = await createPlatform(
    { ...config, port, host: '127.0.0.1', publicUrl: base, dataDir, uiBuildDir: uiBuild, ...overrides },
    { logger: false, recover: false },
  );
  await platform.app.listen({ port, host: '127.0.0.1' });
  return {
    base,
    platform,
    dataDir,
    async close() {
      await platform.close();
      await db.drop();
      // SCRNA_E2E_KEEP=1 keeps the launch directories (Nextflow logs, results) for a look after a failure.
      if (!process.env.SCRNA_E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
      else console.error(`kept ${dataDir}`);
    },
  };
}

/**
 * The platform above and a Chromium page on it, both closed when the test file ends; `pageErrors` collects the
 * page's uncaught errors for a final "no page errors" check.
 */
export async function browserSession(t: Test, name: string, overrides: Partial<Config> = {}, viewport = { width: 1440, height: 900 }) {
  const platform = await startPlatform(name, overrides);
  const browser = await launchBrowser(viewport);
  t.teardown(async () => {
    await browser.close();
    await platform.close();
  });
  const pageErrors: string[] = [];
  browser.page.on('pageerror', (e) => pageErrors.push(String(e)));
  return { ...platform, browser, page: browser.page, pageErrors };
}
