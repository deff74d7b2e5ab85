// Trace uploads over HTTP (create-from-trace and into a run; idempotent; all or nothing) and the task queries.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { fixtures, platformFor } from './helpers.js';

const fixture = (n: string) => readFile(path.join(fixtures, n));

t.test('create a run from each trace format; malformed uploads leave nothing', async (t) => {
  const p = await platformFor(t);
  const upload = (body: Buffer | string, qs = '') =>
    p.app.inject({ method: 'POST', url: `/api/v1/runs/trace${qs}`, payload: body, headers: { 'content-type': 'text/plain' } });
  for (const [file, qs, rows] of [
    ['trace-raw-all.txt', '', 6],
    ['trace-default.txt', '', 6],
    ['trace-berlin-csv.txt', '?tz=Europe/Berlin', 6],
    ['trace-nextflow-tests.txt', '', 3],
    ['trace-raw-resume.txt', '', 5],
  ] as const) {
    const r = await upload(await fixture(file), qs);
    t.equal(r.statusCode, 201, `${file}: ${r.body.slice(0, 200)}`);
    t.equal(r.json().rows, rows, file);
    t.equal(r.json().run.source, 'trace');
  }
  const runs = (await p.app.inject({ url: '/api/v1/runs?limit=10' })).json();
  t.equal(runs.total, 5);
  t.same(runs.items.map((r: { status: string }) => r.status).sort(), ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);

  const before = (await p.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n;
  const good = (await fixture('trace-raw-all.txt')).toString();
  const lines = good.split('\n');
  const bad = [
    [`${lines.slice(0, 4).join('\n')}\n1\tshort\n`, 5],
    [good.replace('\t483\t', '\tfast\t'), 3],
    [Buffer.concat([Buffer.from(lines.slice(0, 3).join('\n')), Buffer.from([0, 0xff, 0x13, 0x88]), Buffer.from('\n')]), 3],
  ] as const;
  for (const [body, line] of bad) {
    const r = await upload(body as string | Buffer);
    t.equal(r.statusCode, 400, r.body);
    t.equal(r.json().line, line, `line of ${r.json().message}`);
    t.type(r.json().column, 'number');
  }
  const huge = await upload(`task_id\tname\n1\t${'x'.repeat(2 << 20)}\n`);
  t.equal(huge.statusCode, 400);
  t.match(huge.json().message, /longer than/);
  t.equal((await upload('x', '?tz=Mars/Olympus')).json().field, 'tz', 'the query parameter is named');
  t.equal((await p.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n, before, 'no task rows from rejected files');
  t.equal((await p.app.inject({ url: '/api/v1/runs' })).json().total, 5, 'no runs from rejected files');
  const json = await p.app.inject({ method: 'POST', url: '/api/v1/runs/trace', payload: { a: 1 } });
  t.equal(json.statusCode, 415);
});

t.test('importing into a run is idempotent and an error rolls the whole file back', async (t) => {
  const p = await platformFor(t);
  const run = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'r', status: 'RUNNING', source: 'platform' });
  const url = `/api/v1/runs/${run.id}/trace`;
  const put = (body: Buffer | string) =>
    p.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'text/tab-separated-values' } });
  const snapshot = async () => (await p.pool.query('SELECT * FROM tasks WHERE run_id = $1 ORDER BY task_id', [run.id])).rows;
  const raw = await fixture('trace-raw-all.txt');
  t.equal((await put(raw)).json().rows, 6);
  const first = await snapshot();
  t.equal((await put(raw)).statusCode, 200);
  t.same(await snapshot(), first, 're-import changes nothing');
  // A file whose 5th row is bad: the 3 good rows before it must not be written either.
  const text = raw.toString().split('\n');
  text[5] = text[5]!.replace('AMD EPYC', 'AMD EPYC\textra');
  const changed = raw.toString().replaceAll('\t46.2\t', '\t99.9\t').split('\n');
  changed[5] = text[5]!;
  const r = await put(changed.join('\n'));
  t.equal(r.statusCode, 400);
  t.equal(r.json().line, 6);
  t.same(await snapshot(), first, 'nothing of the rejected file was written');
  t.equal(
    (
      await p.app.inject({
        method: 'POST',
        url: `/api/v1/runs/${crypto.randomUUID()}/trace`,
        payload: 'x',
        headers: { 'content-type': 'text/plain' },
      })
    ).statusCode,
    404,
  );
});

t.test('tasks: paging, sorting and filtering on every column, CSV', async (t) => {
  const p = await platformFor(t);
  const created = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace',
    payload: await fixture('trace-raw-all.txt'),
    headers: { 'content-type': 'text/plain' },
  });
  const id = created.json().run.id;
  const q = async (qs: string) => {
    const r = await p.app.inject({ url: `/api/v1/runs/${id}/tasks?${qs}` });
    t.equal(r.statusCode, 200, `${qs}: ${r.body.slice(0, 300)}`);
    return r.json();
  };
  const all = await q('');
  t.equal(all.total, 6);
  t.same(
    all.items.map((x: { task_id: number }) => x.task_id),
    [1, 2, 3, 4, 5, 6],
  );
  t.equal(all.items[0].submit, new Date(1795638266623).toISOString());
  t.same(
    (await q('sort=duration&order=desc&limit=2')).items.map((x: { duration: number }) => x.duration),
    [483, 366],
  );
  const page2 = await q('limit=2&offset=2');
  t.same(
    page2.items.map((x: { task_id: number }) => x.task_id),
    [3, 4],
  );
  t.equal(page2.total, 6);
  t.equal((await q('status=FAILED')).total, 2);
  t.equal((await q('process=ALIGN&attempt=2')).total, 1);
  t.equal((await q('name=like:s2')).total, 2);
  t.equal((await q('duration=gte:300&duration=lt:400')).total, 3);
  t.equal((await q(`submit=gt:${new Date(1795638266926).toISOString()}`)).total, 3);
  t.equal((await q('pct_cpu=gt:30')).total, 2);
  t.equal((await q('error_action=RETRY')).items[0].task_id, 3);
  // every column sorts
  for (const col of Object.keys(all.items[0]).filter((c) => c !== 'extra')) await q(`sort=${col}&order=desc`);
  const bad = await p.app.inject({ url: `/api/v1/runs/${id}/tasks?duration=gt:soon` });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().field, 'duration');
  t.equal((await p.app.inject({ url: `/api/v1/runs/${id}/tasks?sort=nope` })).statusCode, 400);
  const csv = await p.app.inject({ url: `/api/v1/runs/${id}/tasks?format=csv&status=COMPLETED&sort=task_id` });
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /text\/csv/);
  const rows = csv.body.trim().split('\n');
  t.equal(rows.length, 5, 'header + 4 completed tasks');
  t.match(rows[0], /^task_id,attempt,status,hash,/);
  t.match(rows[1], /^1,1,COMPLETED,0d\/5220a2,/);
});
