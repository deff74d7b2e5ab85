// Dump and restore of the platform's database through its own pg connection: the embedded server ships no pg_dump,
// and a Debian pg_dump refuses a newer server. The archive is gzip'd text:
//   line 1      {"format":"scrna-db-dump","version":1,"migrations":[...],"tables":[{"name","columns"}],...}
//   per table   "@table <name>", its rows as COPY text (one row a line), then "\." (never a COPY data line)
//   last        "@end {"rows":{"<table>":n,...}}"
// A dump is one REPEATABLE READ transaction (a consistent snapshot while the API keeps writing); a restore is one
// transaction (all or nothing), checks the migrations and row counts, and resets the id sequences.

import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { DEFAULT_PROJECT } from '../domain/auth.js';

export const DUMP_FORMAT = 'scrna-db-dump';
export const DUMP_VERSION = 1;
/** Kysely's own bookkeeping: the schema comes from the migrations, not from the dump. */
const NOT_DUMPED = new Set(['kysely_migration', 'kysely_migration_lock']);
const END_OF_DATA = '\\.';

export interface DumpHeader {
  format: string;
  version: number;
  createdAt: string;
  server: string;
  /** Names of the schema migrations applied, in order; a restore needs exactly these. */
  migrations: string[];
  /** In dependency order (a table after every table it references). */
  tables: { name: string; columns: string[] }[];
}

export class BackupError extends Error {}

const ident = (s: string) => pg.escapeIdentifier(s);

async function migrationsOf(c: pg.ClientBase): Promise<string[]> {
  const exists = await c.query(`SELECT to_regclass('public.kysely_migration') AS t`);
  if (!exists.rows[0].t) return [];
  return (await c.query<{ name: string }>('SELECT name FROM kysely_migration ORDER BY name')).rows.map((r) => r.name);
}

/** The public schema's tables with their columns, each after the tables its foreign keys point to. */
async function tablesOf(c: pg.ClientBase): Promise<{ name: string; columns: string[] }[]> {
  const cols = await c.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND is_generated = 'NEVER'
        AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
      ORDER BY table_name, ordinal_position`,
  );
  const deps = await c.query<{ child: string; parent: string }>(
    `SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'f' AND n.nspname = 'public' AND c.conrelid <> c.confrelid`,
  );
  const columns = new Map<string, string[]>();
  for (const r of cols.rows)
    if (!NOT_DUMPED.has(r.table_name)) columns.set(r.table_name, [...(columns.get(r.table_name) ?? []), r.column_name]);
  const parents = new Map<string, string[]>();
  for (const d of deps.rows) parents.set(d.child, [...(parents.get(d.child) ?? []), d.parent]);
  const ordered: string[] = [];
  const visit = (t: string, path: string[]) => {
    if (ordered.includes(t) || !columns.has(t)) return;
    if (path.includes(t)) throw new BackupError(`foreign keys form a cycle: ${[...path, t].join(' -> ')}`);
    for (const p of parents.get(t) ?? []) visit(p, [...path, t]);
    ordered.push(t);
  };
  for (const t of [...columns.keys()].sort()) visit(t, []);
  return ordered.map((name) => ({ name, columns: columns.get(name)! }));
}

/** Writes the whole database to `out` (gzip'd archive); returns the rows per table. */
export async function dumpDatabase(client: pg.ClientBase, out: Writable): Promise<{ header: DumpHeader; rows: Record<string, number> }> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const header: DumpHeader = {
      format: DUMP_FORMAT,
      version: DUMP_VERSION,
      createdAt: new Date().toISOString(),
      server: (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v.split(' ')[0]!,
      migrations: await migrationsOf(client),
      tables: await tablesOf(client),
    };
    if (!header.migrations.length) throw new BackupError('this database has no platform schema (no migrations applied)');
    const gzip = createGzip();
    const done = pipeline(gzip, out);
    const write = async (s: string) => {
      if (!gzip.write(s)) await once(gzip, 'drain');
    };
    await write(`${JSON.stringify(header)}\n`);
    const rows: Record<string, number> = {};
    for (const t of header.tables) {
      await write(`@table ${t.name}\n`);
      const copy = client.query(copyStreams.to(`COPY ${ident(t.name)} (${t.columns.map(ident).join(', ')}) TO STDOUT`));
      // Every row is one line: counting newlines counts rows.
      let n = 0;
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
        if (!gzip.write(chunk)) await once(gzip, 'drain');
      }
      rows[t.name] = n;
      await write(`${END_OF_DATA}\n`);
    }
    await write(`@end ${JSON.stringify({ rows })}\n`);
    gzip.end();
    await done;
    await client.query('COMMIT');
    return { header, rows };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export interface RestoreOptions {
  /** Replace the rows of a database that already holds some (otherwise refused). */
  force?: boolean;
}

/**
 * Restores an archive into a database already migrated to the same schema (the caller runs the migrations first),
 * in one transaction: a wrong format or migration list, a non-empty database without `force`, a truncated or
 * corrupt archive, or a row count that disagrees with the trailer rolls everything back.
 */
export async function restoreDatabase(client: pg.ClientBase, input: Readable, opts: RestoreOptions = {}): Promise<Record<string, number>> {
  const lines = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<string> => {
    let r: IteratorResult<string>;
    try {
      r = await lines.next();
    } catch (e) {
      // A corrupt or cut gzip stream, or an unreadable file.
      throw new BackupError(`the dump ends early (expected ${what}): ${(e as Error).message}`);
    }
    if (r.done) throw new BackupError(`the dump ends early (expected ${what}): truncated?`);
    return r.value;
  };
  let header: DumpHeader;
  try {
    header = JSON.parse(await next('the header')) as DumpHeader;
  } catch (e) {
    throw e instanceof BackupError ? e : new BackupError('not a platform dump (the first line is not its JSON header)');
  }
  if (header.format !== DUMP_FORMAT) throw new BackupError('not a platform dump (unknown format)');
  if (header.version !== DUMP_VERSION)
    throw new BackupError(`dump format version ${header.version}; this build reads version ${DUMP_VERSION}`);
  const have = await migrationsOf(client);
  if (JSON.stringify(have) !== JSON.stringify(header.migrations))
    throw new BackupError(
      `the dump was made at schema migration ${header.migrations.at(-1)} and this database is at ${have.at(-1) ?? '(none)'}: ` +
        'restore with the platform version that made the dump, then upgrade',
    );
  const tables = await tablesOf(client);
  const names = (ts: { name: string; columns: string[] }[]) => JSON.stringify(ts.map((t) => [t.name, [...t.columns].sort()]).sort());
  if (names(tables) !== names(header.tables)) throw new BackupError('the dump and this database have different tables or columns');

  await client.query('BEGIN');
  try {
    // The migrations seed the default project: a database holding only that is empty (the dump brings its own).
    const counts = await client.query<{ n: string }>(
      `SELECT ${tables
        .map((t) => `(SELECT count(*) FROM ${ident(t.name)}${t.name === 'projects' ? ` WHERE id <> '${DEFAULT_PROJECT}'` : ''})`)
        .join(' + ')} AS n`,
    );
    if (Number(counts.rows[0]!.n) > 0 && !opts.force)
      throw new BackupError('this database is not empty: restore into an empty one, or pass --force to replace its rows');
    await client.query(`TRUNCATE ${tables.map((t) => ident(t.name)).join(', ')} RESTART IDENTITY CASCADE`);
    // Triggers (e.g. an outbox filled on INSERT into runs) would add rows the dump already holds: off while loading.
    // Foreign-key checks are internal triggers and stay on.
    for (const t of tables) await client.query(`ALTER TABLE ${ident(t.name)} DISABLE TRIGGER USER`);
    const rows: Record<string, number> = {};
    for (const t of header.tables) {
      const line = await next(`table ${t.name}`);
      if (line !== `@table ${t.name}`) throw new BackupError(`expected the rows of ${t.name}, found '${line.slice(0, 40)}'`);
      const copy = client.query(copyStreams.from(`COPY ${ident(t.name)} (${t.columns.map(ident).join(', ')}) FROM STDIN`));
      const feed = new PassThrough();
      const done = pipeline(feed, copy);
      let n = 0;
      try {
        for (;;) {
          const row = await next(`the end of table ${t.name}`);
          if (row === END_OF_DATA) break;
          n++;
          if (!feed.write(`${row}\n`)) await once(feed, 'drain');
        }
        feed.end();
        await done;
      } catch (e) {
        // Abort the COPY (CopyFail) so the connection leaves copy mode and the ROLLBACK below can run.
        feed.destroy(e as Error);
        await done.catch(() => undefined);
        throw e;
      }
      rows[t.name] = n;
    }
    const trailer = await next('the trailer');
    const expected = trailer.startsWith('@end ') ? (JSON.parse(trailer.slice(5)) as { rows: Record<string, number> }).rows : null;
    if (!expected || JSON.stringify(expected) !== JSON.stringify(rows))
      throw new BackupError('the row counts do not match the dump trailer: corrupt dump');
    // Sequences (bigserial ids) continue after the restored rows.
    for (const t of tables)
      for (const c of t.columns) {
        const seq = (await client.query<{ s: string | null }>('SELECT pg_get_serial_sequence($1, $2) AS s', [t.name, c])).rows[0]!.s;
        if (seq) await client.query(`SELECT setval($1, COALESCE((SELECT max(${ident(c)}) FROM ${ident(t.name)}), 0) + 1, false)`, [seq]);
      }
    for (const t of tables) await client.query(`ALTER TABLE ${ident(t.name)} ENABLE TRIGGER USER`);
    await client.query('COMMIT');
    return rows;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
