// Where a repository's queries run: the pool, or the one client of a transaction (which COPY needs as well). Every
// repository is built on a scope, so the unit of work hands out the same repositories bound to its transaction.
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import type { Database } from '../../db/schema.js';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export class Scope {
  private constructor(
    readonly db: Kysely<Database>,
    private readonly pool: pg.Pool,
    /** The transaction's client; null outside one. */
    readonly client: pg.PoolClient | null,
  ) {}

  static of(db: Kysely<Database>, pool: pg.Pool): Scope {
    return new Scope(db, pool, null);
  }

  /** Raw SQL, for what the builder does not express well (bulk merges, unnest inserts, COPY): see each use. */
  get sql(): Queryable {
    return this.client ?? this.pool;
  }

  /** Runs fn in a transaction; inside one already, fn joins it. */
  async transaction<T>(fn: (tx: Scope & { client: pg.PoolClient }) => Promise<T>): Promise<T> {
    if (this.client) return fn(this as Scope & { client: pg.PoolClient });
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // A Kysely on this one client: its queries join the transaction; releasing is the pool's business, below.
      const single = { connect: async () => ({ query: client.query.bind(client), release() {} }), end: async () => {}, options: {} };
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: single as unknown as PostgresPool }) });
      const out = await fn(new Scope(db, this.pool, client) as Scope & { client: pg.PoolClient });
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}
