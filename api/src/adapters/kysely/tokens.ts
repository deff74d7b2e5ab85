// API tokens, found by the SHA-256 of the token (the token itself is never stored).
import type { TokenRepository } from '../../domain/repositories.js';
import type { Scope } from './scope.js';

export class KyselyTokenRepository implements TokenRepository {
  constructor(private readonly s: Scope) {}

  async create(t: { id: string; name: string; hash: string; admin: boolean }): Promise<void> {
    await this.s.db
      .insertInto('tokens')
      .values({ id: t.id, name: t.name, token_hash: t.hash, admin: t.admin, last_used_at: null })
      .execute();
  }

  async find(hash: string): Promise<{ id: string; admin: boolean } | null> {
    const r = await this.s.db.selectFrom('tokens').select(['id', 'admin']).where('token_hash', '=', hash).executeTakeFirst();
    return r ?? null;
  }
}
