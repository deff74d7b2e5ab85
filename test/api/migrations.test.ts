// Migrations are frozen: the tasks table that 0001 creates must hold exactly the columns TASK_FIELDS names, with the
// types their kinds need, so adding a task field without a new migration fails here.
import t, { type Test } from 'tap';
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

/** A fresh database, dropped when the test ends. */
async function database(t: Test) {
  const db = await freshDatabase('mig');
  const conn = connect(db.url);
  t.teardown(async () => {
    await conn.close();
    await db.drop();
  });
  return conn;
}

t.test('the tasks table and TASK_FIELDS agree', async (t) => {
  const conn = await database(t);
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

// The frozen list: migrations are applied in this order under these names, and none is ever renamed or dropped.
const FROZEN = ['0001_init', '0002_run_owner', '0003_one_active_launch', '0004_projects'];

t.test('migrations apply in their frozen order, and 0004 brings existing rows into the default project', async (t) => {
  const conn = await database(t);
  await migrate(conn.db);
  const { rows } = await conn.pool.query(`SELECT name FROM kysely_migration ORDER BY name`);
  t.same(rows.map((r) => r.name).slice(0, FROZEN.length), FROZEN);
  const { rows: projects } = await conn.pool.query(`SELECT id FROM projects`);
  t.same(
    projects.map((r) => r.id),
    ['default'],
  );
});
