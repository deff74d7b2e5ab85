// The task list of a run imported from a trace: keyset pages (cursor) give exactly the offset pages' rows in the same
// order for every sort direction, across NULLs, ties and filters; a run that has ended answers with an ETag and 304,
// and a re-import that changes the tasks changes the ETag and the page (the caches follow the run's version).
import t from 'tap';
import { platformFor } from './helpers.js';

const FIELDS = [
  'task_id',
  'attempt',
  'process',
  'tag',
  'name',
  'status',
  'exit',
  'submit',
  'duration',
  'realtime',
  '%cpu',
  'peak_rss',
  'cpus',
];
const N = 1200;

/** A raw-mode trace of n tasks: two attempts of every 7th task, NULLs ('-') and many ties in the sort columns. */
function trace(n = N): string {
  const lines = [FIELDS.join('\t')];
  for (let i = 1; i <= n; i++)
    for (let a = 1; a <= (i % 7 === 0 ? 2 : 1); a++) {
      const proc = ['STARSOLO', 'QC', 'INTEGRATE'][i % 3]!;
      const tag = i % 11 === 0 ? '-' : `S${i % 40}`;
      lines.push(
        [
          i,
          a,
          proc,
          tag,
          tag === '-' ? proc : `${proc} (${tag})`,
          i % 13 === 0 ? 'FAILED' : 'COMPLETED',
          i % 5 === 0 ? '-' : i % 4,
          1_795_000_000_000 + (i % 17) * 1000,
          i % 9 === 0 ? '-' : 100 + (i % 23),
          100 + (i % 23),
          i > N ? '5000.0' : ((i * 37) % 400).toFixed(1),
          i % 6 === 0 ? '-' : 1000 * (i % 31),
          1 + (i % 4),
        ].join('\t'),
      );
    }
  return `${lines.join('\n')}\n`;
}

t.test('cursor pages equal offset pages; ETag and 304 on an ended run, changed by a re-import', async (t) => {
  const p = await platformFor(t);
  const created = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace',
    payload: trace(),
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(created.statusCode, 201, created.body.slice(0, 200));
  const id = created.json().run.id as string;
  const get = (qs: string, headers: Record<string, string> = {}) => p.app.inject({ url: `/api/v1/runs/${id}/tasks?${qs}`, headers });
  const keys = (page: { items: { task_id: number; attempt: number }[] }) => page.items.map((r) => `${r.task_id}/${r.attempt}`);

  for (const sort of ['task_id', 'process', 'tag', 'status', 'exit', 'submit', 'duration', 'pct_cpu', 'peak_rss'])
    for (const order of ['asc', 'desc'])
      for (const filter of ['', '&status=COMPLETED', '&name=like:S1', '&exit=lt:3']) {
        const qs = `sort=${sort}&order=${order}${filter}`;
        const byOffset: string[] = [];
        let total = 0;
        for (let offset = 0; ; offset += 250) {
          const page = (await get(`${qs}&limit=250&offset=${offset}`)).json();
          byOffset.push(...keys(page));
          total = page.total;
          if (offset + 250 >= total) break;
        }
        const byCursor: string[] = [];
        let pages = 0;
        for (let cursor: string | null = null; ; pages++) {
          const r = await get(`${qs}&limit=250${cursor ? `&cursor=${cursor}` : ''}`);
          const page = r.json();
          t.equal(page.total, total);
          byCursor.push(...keys(page));
          cursor = page.nextCursor;
          if (!cursor) break;
        }
        t.ok(byOffset.length === total && total > 250, `${qs}: ${total} rows over several pages`);
        t.same(byCursor, byOffset, `${qs}: cursor pages hold the offset pages' rows in order (${pages + 1} pages)`);
      }

  const first = await get('sort=duration&limit=3');
  t.equal(first.statusCode, 200);
  const etag = first.headers.etag as string;
  t.match(etag, /^"[\w-]+"$/, 'an ended run has an ETag');
  const again = await get('sort=duration&limit=3', { 'if-none-match': etag });
  t.equal(again.statusCode, 304, 'If-None-Match with the ETag: 304');
  t.equal(again.body, '');
  t.not((await get('sort=duration&limit=4')).headers.etag, etag, 'another page, another ETag');

  t.equal((await get('sort=duration&cursor=x')).statusCode, 400, 'a made-up cursor is refused');
  const cursor = first.json().nextCursor as string;
  const wrongSort = await get(`sort=exit&cursor=${cursor}`);
  t.equal(wrongSort.statusCode, 400, 'a cursor of another sort is refused');
  t.equal(wrongSort.json().field, 'cursor');
  t.equal((await get(`sort=duration&offset=5&cursor=${cursor}`)).json().field, 'cursor', 'offset and cursor together are refused');

  // The same file with 5 more tasks, the busiest of all: the re-import changes the tasks, so the page and its ETag do.
  const before = (await get('sort=pct_cpu&order=desc&limit=5')).json();
  const put = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/${id}/trace`,
    payload: trace(N + 5),
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(put.statusCode, 200, put.body);
  const stale = await get('sort=duration&limit=3', { 'if-none-match': etag });
  t.equal(stale.statusCode, 200, 'after a re-import the old ETag no longer matches');
  t.not(stale.headers.etag, etag);
  const after = (await get('sort=pct_cpu&order=desc&limit=5')).json();
  t.not(after.items[0].pct_cpu, before.items[0].pct_cpu, 'the page shows the re-imported values, not a cached page');
  t.equal(after.items[0].pct_cpu, 5000);
  t.equal(after.total - before.total, put.json().rows - created.json().rows, 'the new rows are counted');

  // A run still running has no ETag (its tasks change with every event batch) and never answers 304.
  const running = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'live', status: 'RUNNING', source: 'platform' });
  const live = await p.app.inject({ url: `/api/v1/runs/${running.id}/tasks`, headers: { 'if-none-match': '*' } });
  t.equal(live.statusCode, 200);
  t.equal(live.headers.etag, undefined);
});
