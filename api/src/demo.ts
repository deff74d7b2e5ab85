// `make demo`: the platform on an embedded PostgreSQL (no server to install), the pipeline's test profile
// launched through the Launcher on its bundled synthetic data, served until Ctrl-C. A second start reuses the
// database and the run (a finished demo run is shown again, a running one is followed again).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createPlatform } from './composition.js';
import { loadConfig } from './config.js';
import type { Run } from './domain/ports.js';
import { runProgress } from './domain/progress.js';

const config = loadConfig();
const say = (m: string) => process.stderr.write(`\x1b[1m[demo]\x1b[0m ${m}\n`);

say(
  config.databaseUrl
    ? 'using the PostgreSQL server from DATABASE_URL / PG*'
    : `starting the embedded PostgreSQL (data in ${path.join(config.dataDir, 'pg')})`,
);
const platform = await createPlatform(config, { logger: { level: process.env.LOG_LEVEL ?? 'warn' } });
await platform.app.listen({ port: config.port, host: config.host });
const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
say(`API on ${url}/api/v1 (OpenAPI ${url}/api/v1/openapi.json, Swagger UI ${url}/docs)`);

let shutting = false;
const stop = () => {
  if (shutting) return;
  shutting = true;
  say('stopping (a running pipeline keeps going and is picked up by the next `make demo`)');
  platform.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

let run: Run | null = null;
if (!existsSync(path.join(config.pipeline, 'workflows/main.nf'))) {
  say('the pipeline (workflows/main.nf) is not there yet: serving the API only');
} else {
  const previous = (await platform.repos.runs.list({ label: ['demo=test-profile'], limit: 1 })).items[0];
  if (previous && previous.status !== 'FAILED' && previous.status !== 'CANCELLED') {
    run = previous;
    say(`demo run ${run.id} is ${run.status} (from an earlier start)`);
  } else {
    run = await platform.runs.create({
      profiles: ['test'],
      name: 'demo: synthetic 10x test data',
      labels: { demo: 'test-profile' },
      submitter: 'demo',
    });
    say(`launched the pipeline's test profile: run ${run.id} (${run.status})`);
    if (run.status === 'FAILED') say(`launch failed: ${run.errorMessage}`);
  }
}
const ui = existsSync(path.join(config.uiBuildDir, 'index.html'));
const page = run ? (ui ? `${url}/runs/${run.id}` : `${url}/api/v1/runs/${run.id}`) : ui ? url : `${url}/docs`;
say(`open ${page}`);
process.stdout.write(`${page}\n`);

// Progress on the terminal until the run ends; the server keeps serving afterwards.
if (run) {
  let last = '';
  const timer = setInterval(async () => {
    const r = await platform.repos.runs.get(run!.id).catch(() => null);
    if (!r) return;
    const p = await runProgress(platform.repos.tasks, r.id);
    const line = `${r.status}: ${p.completed + p.cached}/${p.total} tasks done, ${p.running} running, ${p.failed} failed${r.resultsIngestedAt ? ', results ingested' : ''}`;
    if (line !== last) say(line);
    last = line;
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status) && (r.status !== 'COMPLETED' || r.resultsIngestedAt)) {
      clearInterval(timer);
      say(`done: ${page} (Ctrl-C to stop)`);
    }
  }, 3000);
  timer.unref();
}
