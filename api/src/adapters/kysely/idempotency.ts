// Idempotency keys: one row per (project, key), claimed by an upsert on the primary key so that of any number of
// concurrent duplicates exactly one holds the claim; the others wait on its row and then find it taken.
import { sql } from 'kysely';
import type { IdempotencyRecord, IdempotencyRepository, StoredResponse } from '../../domain/repositories.js';
import type { Scope } from './scope.js';

export class KyselyIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly s: Scope) {}

  async claim(project: string, key: string, requestHash: string, expiredBefore: Date, abandonedBefore: Date): Promise<boolean> {
    const r = await this.s.db
      .insertInto('idempotency_keys')
      .values({ project_id: project, key, request_hash: requestHash, run_id: null, response: null })
      .onConflict((oc) =>
        oc
          .columns(['project_id', 'key'])
          .doUpdateSet({ request_hash: requestHash, run_id: null, response: null, created_at: sql`now()` })
          .where((eb) =>
            eb.or([
              eb('idempotency_keys.created_at', '<', expiredBefore),
              eb.and([eb('idempotency_keys.response', 'is', null), eb('idempotency_keys.created_at', '<', abandonedBefore)]),
            ]),
          ),
      )
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async find(project: string, key: string): Promise<IdempotencyRecord | null> {
    const r = await this.s.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'response'])
      .where('project_id', '=', project)
      .where('key', '=', key)
      .executeTakeFirst();
    return r ? { requestHash: r.request_hash, response: (r.response as StoredResponse | null) ?? null } : null;
  }

  async complete(project: string, key: string, runId: string | null, response: StoredResponse): Promise<void> {
    await this.s.db
      .updateTable('idempotency_keys')
      .set({ run_id: runId, response: JSON.stringify(response) })
      .where('project_id', '=', project)
      .where('key', '=', key)
      .execute();
  }

  async release(project: string, key: string): Promise<void> {
    await this.s.db
      .deleteFrom('idempotency_keys')
      .where('project_id', '=', project)
      .where('key', '=', key)
      .where('response', 'is', null)
      .execute();
  }

  async purge(before: Date): Promise<number> {
    const r = await this.s.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
