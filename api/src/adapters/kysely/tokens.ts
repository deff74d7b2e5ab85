// API tokens, found by the SHA-256 of the token (the token itself is never stored).
import type { Scope as TokenScope } from '../../domain/auth.js';
import type { NewToken, TokenRecord, TokenRepository } from '../../domain/repositories.js';
import { iso, UUID } from './rows.js';
import type { Scope } from './scope.js';

export class KyselyTokenRepository implements TokenRepository {
  constructor(private readonly s: Scope) {}

  async create(t: NewToken): Promise<void> {
    await this.s.db
      .insertInto('tokens')
      .values({
        id: t.id,
        name: t.name,
        token_hash: t.hash,
        // Kept in step with the scopes for readers of the old column.
        admin: t.scopes.includes('admin'),
        project_id: t.project,
        scopes: [...t.scopes],
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  async find(hash: string): Promise<{ id: string; project: string; scopes: TokenScope[] } | null> {
    const r = await this.s.db
      .selectFrom('tokens')
      .select(['id', 'project_id', 'scopes'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r ? { id: r.id, project: r.project_id, scopes: r.scopes as TokenScope[] } : null;
  }

  async list(project?: string): Promise<TokenRecord[]> {
    let q = this.s.db.selectFrom('tokens').select(['id', 'name', 'project_id', 'scopes', 'created_at', 'revoked_at']);
    if (project !== undefined) q = q.where('project_id', '=', project);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      project: r.project_id,
      scopes: r.scopes as TokenScope[],
      createdAt: iso(r.created_at)!,
      revokedAt: iso(r.revoked_at),
    }));
  }

  async revoke(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    await this.s.db.updateTable('tokens').set({ revoked_at: new Date() }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    const r = await this.s.db.selectFrom('tokens').select('id').where('id', '=', id).executeTakeFirst();
    return r !== undefined;
  }
}
