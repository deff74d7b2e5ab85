// Database logins held in Secrets Manager (the RDS secret JSON: host, port, username, password, dbname). Read when a
// connection opens and cached until the server refuses a login, so a rotated password is picked up without a restart.
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import type { DbLogin, LoginSource } from '../db/connect.js';

/** Secrets Manager's multi-user rotation alternates between <user> and <user>_clone; both act as <user>. */
const CLONE_SUFFIX = /_clone$/;
const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

export class SecretDbLogin implements LoginSource {
  private cached: Promise<DbLogin> | null = null;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    /** Act as the owner role (the user name without _clone); off for the master login. */
    private readonly asOwner = true,
  ) {}

  current(): Promise<DbLogin> {
    this.cached ??= this.read().catch((e: unknown) => {
      this.cached = null;
      throw e;
    });
    return this.cached;
  }

  refresh(): void {
    this.cached = null;
  }

  private async read(): Promise<DbLogin> {
    const res = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(res.SecretString ?? '');
    } catch {
      throw new Error(`database secret ${this.secretId}: not a JSON secret string`);
    }
    const text = (k: string) => {
      const v = doc[k];
      if ((typeof v !== 'string' && typeof v !== 'number') || v === '') throw new Error(`database secret ${this.secretId}: no "${k}"`);
      return String(v);
    };
    const user = text('username');
    const role = user.replace(CLONE_SUFFIX, '');
    if (this.asOwner && !ROLE.test(role)) throw new Error(`database secret ${this.secretId}: "${user}" is not a plain role name`);
    return {
      host: text('host'),
      port: Number(text('port')),
      user,
      password: text('password'),
      database: text('dbname'),
      ...(this.asOwner ? { role } : {}),
    };
  }
}

/**
 * Run once by `scrna migrate` with the master login: creates the application's owner role if it is missing (with the
 * password its secret holds) and lets it create objects in the database. The rotation function later adds the
 * <role>_clone login as a member of it.
 */
export async function ensureApplicationRole(master: LoginSource, app: LoginSource, ssl?: pg.ClientConfig['ssl']): Promise<boolean> {
  const m = await master.current();
  const a = await app.current();
  const role = a.role ?? a.user;
  const client = new pg.Client({ host: m.host, port: m.port, user: m.user, password: m.password, database: m.database, ssl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    const id = client.escapeIdentifier(role);
    // Utility statements take no bind parameters: the names and the password are quoted by pg's escaping.
    if (exists.rowCount === 0) await client.query(`CREATE ROLE ${id} LOGIN PASSWORD ${client.escapeLiteral(a.password)}`);
    await client.query(`GRANT CREATE, CONNECT ON DATABASE ${client.escapeIdentifier(m.database)} TO ${id}`);
    await client.query(`GRANT CREATE ON SCHEMA public TO ${id}`);
    return exists.rowCount === 0;
  } finally {
    await client.end();
  }
}
