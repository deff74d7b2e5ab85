// Migrations are frozen: the tasks table that 0001 creates must hold exactly the columns TASK_FIELDS names, with the
// types their kinds need, so adding a task field without a new migration fails here.
import t from 'tap';
import { connect } from '../../api/src/db/connect.js';
import { migrate } from '../../api/src/db/migrations.js';
import { type FieldKind, TASK_FIELDS } from '../../api/src/domain/task-fields.js';
import { freshDatabase } from '../helpers/db.js';

const PG_TYPE: Record<FieldKind, string> = {
  str: 'text',
  int: 'integer',
  num: 'bigint',
  date: 'timestamp with time zone',
  time: 'bigint',
  mem: 'bigint',
  perc: 'double precision',
};

t.test('the tasks table and TASK_FIELDS agree', async (t) => {
  const db = await freshDatabase('mig');
  const conn = connect(db.url);
  t.teardown(async () => {
    await conn.close();
    await db.drop();
  });
  await migrate(conn.db);
  await migrate(conn.db);
  const { rows } = await conn.pool.query(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'tasks' ORDER BY ordinal_position`,
  );
  const have = rows.map((r) => `${r.column_name} ${r.data_type}`);
  const want = [
    'run_id uuid',
    'task_id integer',
    'attempt integer',
    'status text',
    'state_key smallint',
    ...TASK_FIELDS.map((f) => `${f.column} ${PG_TYPE[f.kind]}`),
    'extra jsonb',
  ];
  t.same(have, want);
});
