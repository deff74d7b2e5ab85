// Projects: who a run and a token belong to.
import type { ProjectRecord, ProjectRepository } from '../../domain/repositories.js';
import { iso } from './rows.js';
import type { Scope } from './scope.js';

export class KyselyProjectRepository implements ProjectRepository {
  constructor(private readonly s: Scope) {}

  async create(p: { id: string; name: string }): Promise<boolean> {
    const r = await this.s.db
      .insertInto('projects')
      .values(p)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async list(): Promise<ProjectRecord[]> {
    const rows = await this.s.db.selectFrom('projects').select(['id', 'name', 'created_at']).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: iso(r.created_at)! }));
  }

  async exists(id: string): Promise<boolean> {
    return (await this.s.db.selectFrom('projects').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }
}
