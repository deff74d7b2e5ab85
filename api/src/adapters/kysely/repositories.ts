// The Kysely repositories of every aggregate on one database, and the unit of work that binds them to a transaction.
import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import type { Database } from '../../db/schema.js';
import type { Repositories } from '../../domain/repositories.js';
import { KyselyEventRepository } from './events.js';
import { KyselyIdempotencyRepository } from './idempotency.js';
import { KyselyProjectRepository } from './projects.js';
import { KyselyResultRepository } from './results.js';
import { KyselyRunRepository } from './runs.js';
import { Scope } from './scope.js';
import { KyselyTaskRepository } from './tasks.js';
import { KyselyTimelineRepository } from './timeline.js';
import { KyselyTokenRepository } from './tokens.js';
import { KyselyUploadRepository } from './uploads.js';
import { KyselyWebhookRepository } from './webhooks.js';

function on(s: Scope): Repositories {
  return {
    runs: new KyselyRunRepository(s),
    tasks: new KyselyTaskRepository(s),
    events: new KyselyEventRepository(s),
    results: new KyselyResultRepository(s),
    timeline: new KyselyTimelineRepository(s),
    tokens: new KyselyTokenRepository(s),
    projects: new KyselyProjectRepository(s),
    idempotency: new KyselyIdempotencyRepository(s),
    uploads: new KyselyUploadRepository(s),
    webhooks: new KyselyWebhookRepository(s),
    transaction: (fn) => s.transaction((tx) => fn(on(tx))),
    ping: async () => {
      await sql`SELECT 1`.execute(s.db);
    },
  };
}

export const kyselyRepositories = (db: Kysely<Database>, pool: pg.Pool): Repositories => on(Scope.of(db, pool));
