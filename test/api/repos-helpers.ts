// A migrated fresh database and the repositories on it, torn down with the test.
import type { Test } from 'tap';
import { kyselyRepositories } from '../../api/src/adapters/kysely/repositories.js';
import { connect } from '../../api/src/db/connect.js';
import { migrate } from '../../api/src/db/migrations.js';
import { freshDatabase } from '../helpers/db.js';

export async function reposFor(t: Test, prefix = 'api') {
  const fresh = await freshDatabase(prefix);
  const conn = connect(fresh.url);
  await migrate(conn.db);
  t.teardown(async () => {
    await conn.close();
    await fresh.drop();
  });
  return { repos: kyselyRepositories(conn.db, conn.pool), conn, url: fresh.url };
}
