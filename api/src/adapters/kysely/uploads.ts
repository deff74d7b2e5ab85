// Registered raw FASTQs, one per URI.
import type { NewUpload } from '../../domain/ports.js';
import type { UploadRepository } from '../../domain/repositories.js';
import type { Scope } from './scope.js';

export class KyselyUploadRepository implements UploadRepository {
  constructor(private readonly s: Scope) {}

  async register(u: NewUpload): Promise<{ id: string; created: boolean }> {
    const r = await this.s.db
      .insertInto('uploads')
      .values(u)
      .onConflict((oc) => oc.column('uri').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (r) return { id: r.id, created: true };
    const existing = await this.s.db.selectFrom('uploads').select('id').where('uri', '=', u.uri).executeTakeFirstOrThrow();
    return { id: existing.id, created: false };
  }
}
