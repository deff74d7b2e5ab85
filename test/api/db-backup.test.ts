// `scrna db dump` / `scrna db restore` round trip on a real database: every row of every table (runs, labels, tasks,
// events, samples, cells, ...) equal after dump, wipe and restore, on the test server and on the embedded one; a
// non-empty target, another migration list and a cut archive are refused with nothing changed.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
import { fixtures, platformFor } from './helpers.js';

const scrna = path.join(repoRoot, 'api/bin/scrna.js');
// Text that COPY must escape, and characters outside ASCII.
const NASTY = 'tab\there\\back slash\nnew line\r\u00e9\u{1F9EC} "quoted" \\N';

t.test('dump, wipe, restore: every row equal', async (t) => {
  const p = await platformFor(t);
  const url = p.config.databaseUrl!;
  const dir = await mkdtemp(path.join(tmpdir(), 'scrna-backup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => run('node', [scrna, 'db', ...args], { env: { DATABASE_URL: url } });

  // Runs and tasks through the platform's own paths, samples, cells and events with values COPY must keep exactly.
  const up = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=backup',
    headers: { 'content-type': 'text/plain' },
    payload: await readFile(path.join(fixtures, 'trace-default.txt')),
  });
  t.equal(up.statusCode, 201, up.body);
  const runId = up.json().run.id as string;
  await p.pool.query(`UPDATE runs SET params = $2, profiles = $3, error_message = $4 WHERE id = $1`, [
    runId,
    JSON.stringify({ s: NASTY, n: 1.5e-300, deep: { a: [1, null, true] } }),
    ['test', NASTY, ''],
    NASTY,
  ]);
  await p.pool.query(`INSERT INTO run_labels (run_id, key, value) VALUES ($1, 'project', $2), ($1, 'empty', '')`, [runId, NASTY]);
  await p.pool.query(
    `INSERT INTO samples (run_id, sample, batch, chemistry, registration, metrics, qc_thresholds, cells_before_qc, cells_after_qc)
     VALUES ($1, $2, NULL, '10xv3', $3, '{"Estimated Number of Cells": 5000}', '{}', 5000, 4800), ($1, 's2', 'b', NULL, '{}', '{}', '{}', NULL, NULL)`,
    [runId, NASTY, JSON.stringify({ fastqs: [NASTY] })],
  );
  await p.pool.query(
    `INSERT INTO cells (run_id, idx, barcode, sample, batch, n_genes, total_counts, pct_counts_mt, doublet_score, leiden, umap_x, umap_y, extra)
     SELECT $1, i, 'AAAC' || i, CASE WHEN i % 2 = 0 THEN $2 ELSE 's2' END, NULL, i, i * 1.25, 'NaN', '-Infinity', (i % 7)::text,
            -0.0, 3.4e38, jsonb_build_object('k', i) FROM generate_series(0, 999) i`,
    [runId, NASTY],
  );
  await p.pool.query(
    `INSERT INTO events (run_id, dedupe_key, event, seq, task_id, attempt, body) VALUES ($1, 'k1', 'started', 1, NULL, NULL, $2), ($1, 'k2', 'completed', 2, 3, 1, '{}')`,
    [runId, JSON.stringify({ text: NASTY })],
  );

  const tables = (
    await p.pool.query<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'kysely%' ORDER BY 1`,
    )
  ).rows.map((r) => r.t);
  const snapshot = async () => {
    const out: Record<string, string[]> = {};
    for (const table of tables)
      out[table] = (await p.pool.query<{ j: string }>(`SELECT to_jsonb(x)::text AS j FROM "${table}" x`)).rows.map((r) => r.j).sort();
    return out;
  };
  const before = await snapshot();
  for (const table of ['runs', 'tasks', 'samples', 'cells', 'events', 'run_labels'])
    t.ok(before[table]!.length > 0, `${table} has rows to back up (${before[table]!.length})`);

  const file = path.join(dir, 'platform.dump.gz');
  const dump = await cli('dump', file, '--json');
  t.equal(dump.code, 0, dump.stderr);
  const report = JSON.parse(dump.stdout) as { rows: Record<string, number>; migration: string };
  t.equal(report.rows.cells, 1000);
  t.equal(report.rows.tasks, before.tasks!.length);

  // Wipe: the schema itself goes; restore brings it back through the migrations, then the rows.
  await p.pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  const restored = await cli('restore', file);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, /rows of \d+ tables restored/);
  t.same(await snapshot(), before, 'every row of every table equal after dump, wipe, restore');
  const next = await p.pool.query<{ id: string }>(
    `INSERT INTO events (run_id, dedupe_key, event, body) VALUES ($1, 'k3', 'x', '{}') RETURNING id`,
    [runId],
  );
  const maxBefore = Math.max(...before.events!.map((j) => Number(JSON.parse(j).id)));
  t.ok(Number(next.rows[0]!.id) > maxBefore, 'the event id sequence continues after the restored rows');
  await p.pool.query(`DELETE FROM events WHERE dedupe_key = 'k3'`);

  const refused = await cli('restore', file);
  t.equal(refused.code, 1, 'a database with rows is not overwritten');
  t.match(refused.stderr, /not empty.*--force/);
  // A trigger that writes on INSERT into runs (as an outbox does) must not fire for restored rows, and stays.
  await p.pool.query(`CREATE FUNCTION test_label() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO run_labels (run_id, key, value) VALUES (NEW.id, 'trigger', 'fired'); RETURN NEW; END $$`);
  await p.pool.query('CREATE TRIGGER runs_test_label AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION test_label()');
  const forced = await cli('restore', file, '--force');
  t.equal(forced.code, 0, forced.stderr);
  t.same(await snapshot(), before, '--force replaces the rows with the dump (no trigger fired)');
  const enabled = await p.pool.query(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'runs_test_label'`);
  t.same(enabled.rows, [{ tgenabled: 'O' }], 'the trigger is enabled again');
  await p.pool.query('DROP TRIGGER runs_test_label ON runs; DROP FUNCTION test_label()');

  // Another schema version: refused before anything is touched.
  const text = gunzipSync(await readFile(file)).toString('utf8');
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl));
  const other = path.join(dir, 'other.dump.gz');
  await writeFile(other, gzipSync(`${JSON.stringify({ ...header, migrations: [...header.migrations, '9999_future'] })}${text.slice(nl)}`));
  const wrong = await cli('restore', other, '--force');
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /made at schema migration 9999_future and this database is at /);

  // A cut archive: the forced restore fails and rolls back, so the rows are the ones before it.
  await p.pool.query(`UPDATE runs SET name = 'changed after the dump' WHERE id = $1`, [runId]);
  const changed = await snapshot();
  const cut = path.join(dir, 'cut.dump.gz');
  const whole = await readFile(file);
  await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const broken = await cli('restore', cut, '--force');
  t.equal(broken.code, 1);
  t.match(broken.stderr, /the dump ends early/);
  t.same(await snapshot(), changed, 'a failed restore changes nothing');

  // The embedded server (no DATABASE_URL / PG*; PostgreSQL 17 from the npm package) takes the same dump, and its
  // own dump of the restored rows is the same archive apart from the header's date and server version.
  // As root the embedded server runs as the postgres user, which must reach its directory.
  await chmod(dir, 0o755);
  const embedded = (...args: string[]) =>
    run('node', [scrna, 'db', ...args], {
      env: { DATABASE_URL: '', PGHOST: '', SCRNA_DATA_DIR: path.join(dir, 'data'), SCRNA_EMBEDDED_PG_PORT: '0' },
    });
  const into = await embedded('restore', file);
  t.equal(into.code, 0, into.stderr);
  t.match(into.stdout, /restored into the embedded server/);
  const again = path.join(dir, 'embedded.dump.gz');
  const out = await embedded('dump', again);
  t.equal(out.code, 0, out.stderr);
  const body = (f: Buffer) => gunzipSync(f).toString('utf8').split('\n');
  const [h1, ...rows1] = body(await readFile(file));
  const [h2, ...rows2] = body(await readFile(again));
  const schema = (h: string) => ({ migrations: JSON.parse(h).migrations, tables: JSON.parse(h).tables });
  t.same(schema(h2!), schema(h1!), 'same migrations and tables');
  t.ok(rows1.length > 1000 && rows2.join('\n') === rows1.join('\n'), 'the same rows, byte for byte');

  const missing = await cli('restore', path.join(dir, 'nope.gz'));
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no such file/);
});
