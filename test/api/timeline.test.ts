// GET /runs/:id/timeline: every task attempt's bar as Arrow columns, from start/complete when recorded, else from
// submit + duration (start = end - realtime) or submit + realtime, with the basis named per task.
import { tableFromIPC } from 'apache-arrow';
import t from 'tap';
import { platformFor } from './helpers.js';

const ms = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);

t.test('bars and their basis for each combination of recorded times', async (t) => {
  const p = await platformFor(t);
  const header = 'task_id\tname\tstatus\tsubmit\tstart\tcomplete\tduration\trealtime';
  const rows = [
    // recorded start/complete win over duration/realtime
    [1, 'ALIGN (s1)', 'COMPLETED', '2026-11-25 10:00:00.000', '2026-11-25 10:00:05.000', '2026-11-25 10:01:00.000', '9s', '1s'],
    // Nextflow's default columns: end = submit + duration, start = end - realtime
    [2, 'COUNT (s1)', 'FAILED', '2026-11-25 10:00:00.000', '-', '-', '2m', '90s'],
    // no realtime: the bar starts at submit
    [3, 'QC', 'COMPLETED', '2026-11-25 10:00:10.000', '-', '-', '30s', '-'],
    // no duration: submit + realtime
    [4, 'QC', 'COMPLETED', '2026-11-25 10:00:20.000', '-', '-', '-', '10s'],
    // still running: start, no end
    [5, 'MERGE', 'RUNNING', '2026-11-25 10:02:00.000', '2026-11-25 10:02:01.000', '-', '-', '-'],
    // submitted only
    [6, 'MERGE', 'SUBMITTED', '2026-11-25 10:03:00.000', '-', '-', '-', '-'],
    // nothing recorded
    [7, 'REPORT', 'SUBMITTED', '-', '-', '-', '-', '-'],
  ];
  const up = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=timeline',
    headers: { 'content-type': 'text/plain' },
    payload: `${[header, ...rows.map((r) => r.join('\t'))].join('\n')}\n`,
  });
  t.equal(up.statusCode, 201, up.body);
  const id = up.json().run.id as string;
  const res = await p.app.inject({ url: `/api/v1/runs/${id}/timeline` });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /application\/vnd\.apache\.arrow\.stream/);
  const table = tableFromIPC(res.rawPayload);
  const got = table.toArray().map((r) => {
    const o = r.toJSON() as Record<string, unknown>;
    const n = (v: unknown) => (Number.isNaN(v) ? null : v);
    return [o.task_id, o.process, o.tag, o.status, o.basis, n(o.queued), n(o.start), n(o.end)];
  });
  const at = (s: string) => ms(`2026-11-25 ${s}`);
  t.same(got, [
    [1, 'ALIGN', 's1', 'COMPLETED', 'start-complete', at('10:00:00.000'), at('10:00:05.000'), at('10:01:00.000')],
    [2, 'COUNT', 's1', 'FAILED', 'submit-duration', at('10:00:00.000'), at('10:00:30.000'), at('10:02:00.000')],
    [3, 'QC', null, 'COMPLETED', 'submit-duration', at('10:00:10.000'), at('10:00:10.000'), at('10:00:40.000')],
    [4, 'QC', null, 'COMPLETED', 'submit-realtime', at('10:00:20.000'), at('10:00:20.000'), at('10:00:30.000')],
    [5, 'MERGE', null, 'RUNNING', 'open', at('10:02:00.000'), at('10:02:01.000'), null],
    [6, 'MERGE', null, 'SUBMITTED', 'open', at('10:03:00.000'), at('10:03:00.000'), null],
    [7, 'REPORT', null, 'SUBMITTED', 'none', null, null, null],
  ]);

  const missing = await p.app.inject({ url: `/api/v1/runs/${crypto.randomUUID()}/timeline` });
  t.equal(missing.statusCode, 404, 'an unknown run is a 404');
  const one = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=one',
    headers: { 'content-type': 'text/plain' },
    payload: `${header}\n${rows[0]!.join('\t')}\n`,
  });
  t.equal(tableFromIPC((await p.app.inject({ url: `/api/v1/runs/${one.json().run.id}/timeline` })).rawPayload).numRows, 1);
});
