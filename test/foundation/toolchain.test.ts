// The toolchain the setup step provides: offline Nextflow from Maven jars, STAR, the Python
// venv, and the PostgreSQL server the test command starts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { freshDatabase } from '../helpers/db.js';
import { run } from '../helpers/exec.js';
import { nextflowBin, repoRoot, venvPython } from '../helpers/paths.js';

const pinned = /<nextflow\.version>([^<]+)<\/nextflow\.version>/.exec(
  await readFile(path.join(repoRoot, 'scripts/nextflow/pom.xml'), 'utf8'),
)?.[1];

// `unshare -n` puts Nextflow in a network namespace with no interfaces up: any download attempt fails.
t.test('nextflow -version prints the pinned version with networking unavailable', async (t) => {
  t.match(pinned, /^\d+\.\d+\.\d+$/);
  const r = await run('unshare', ['-n', nextflowBin, '-version']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`version ${pinned?.replaceAll('.', '\\.')} build`));
});

t.test('a two-process DSL2 workflow runs, traces and resumes offline', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-two-step-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fixture = path.join(repoRoot, 'test/fixtures/nf-two-step');
  const args = ['-n', nextflowBin, 'run', path.join(fixture, 'main.nf'), '-c', path.join(fixture, 'nextflow.config'), '--n', '7'];

  const first = await run('unshare', args, { cwd: dir });
  t.equal(first.code, 0, first.stdout + first.stderr);
  t.equal((await readFile(path.join(dir, 'out/count.txt'), 'utf8')).trim(), '7');
  const trace1 = (await readFile(path.join(dir, 'trace.txt'), 'utf8')).trim().split('\n');
  t.same(trace1[0]?.split('\t'), ['task_id', 'hash', 'name', 'status', 'exit', 'submit']);
  t.same(
    trace1.slice(1).map((l) => l.split('\t')[3]),
    ['COMPLETED', 'COMPLETED'],
  );

  const second = await run('unshare', [...args, '-resume'], { cwd: dir });
  t.equal(second.code, 0, second.stdout + second.stderr);
  const rows2 = (await readFile(path.join(dir, 'trace.txt'), 'utf8')).trim().split('\n').slice(1);
  t.same(
    rows2.map((l) => l.split('\t')[3]),
    ['CACHED', 'CACHED'],
    'both tasks reused from the cache',
  );
  const hashes = (rows: string[]) => rows.map((l) => l.split('\t')[1]).sort();
  t.same(hashes(rows2), hashes(trace1.slice(1)), 'the cached tasks are the ones the first run executed');
});

t.test('STAR runs', async (t) => {
  const r = await run('STAR', ['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout.trim(), /^2\.7\.\d+[a-z]?$/);
});

t.test('the virtualenv imports the pinned analysis stack', async (t) => {
  const pins = await readFile(path.join(repoRoot, 'workflows/requirements.txt'), 'utf8');
  const want = (name: string) => new RegExp(`^${name}==(\\S+)$`, 'm').exec(pins)?.[1];
  const r = await run(venvPython, [
    '-c',
    'import json, scanpy, harmonypy, anndata, leidenalg, igraph, umap, pyarrow, scib_metrics\n' +
      'from importlib.metadata import version\n' +
      'print(json.dumps({n: version(n) for n in ["scanpy", "harmonypy", "anndata", "pyarrow"]}))',
  ]);
  t.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, string>;
  for (const name of ['scanpy', 'harmonypy', 'anndata', 'pyarrow']) t.equal(got[name], want(name), `${name} matches its pin`);
});

t.test('the test PostgreSQL server answers in a fresh database', async (t) => {
  const db = await freshDatabase('foundation');
  t.teardown(() => db.drop());
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  t.teardown(() => client.end());
  const r = await client.query<{ db: string; n: number }>('SELECT current_database() AS db, 40 + 2 AS n');
  t.same(r.rows[0], { db: db.name, n: 42 });
  const tables = await client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
  t.equal(tables.rows[0]?.n, 0, 'each suite starts from an empty database');
});
