// A run reconstructed from a trace with Nextflow's default columns (no process, tag, start or complete): process and
// tag come from the task name, the run's times from its tasks, and its status from how each task's last attempt ended.
import t from 'tap';
import { platformFor } from './helpers.js';

const HEADER = 'task_id\thash\tnative_id\tname\tstatus\texit\tsubmit\tduration\trealtime\t%cpu\tpeak_rss\tpeak_vmem\trchar\twchar';
const row = (id: number, name: string, status: string, exit: number, submit: string, duration: string, realtime: string) =>
  [id, `0${id}/abcdef`, 1000 + id, name, status, exit, submit, duration, realtime, '95.0%', '10 MB', '20 MB', '1 KB', '2 KB'].join('\t');

async function upload(p: Awaited<ReturnType<typeof platformFor>>, lines: string[]) {
  const r = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace?name=default-columns',
    payload: `${[HEADER, ...lines].join('\n')}\n`,
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(r.statusCode, 201, r.body);
  const id = r.json().run.id as string;
  const run = (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
  const tasks = (await p.app.inject({ url: `/api/v1/runs/${id}/tasks?sort=task_id` })).json().items;
  return { run, tasks };
}

t.test('process and tag split from the name; times from the tasks; all failed is FAILED', async (t) => {
  const p = await platformFor(t);
  const { run, tasks } = await upload(p, [
    row(1, 'NFCORE_SCRNA:SCRNA:ALIGN (pbmc (lane 1))', 'FAILED', 1, '2026-11-25 20:00:00.000', '2m', '1m 30s'),
    row(2, 'MERGE', 'FAILED', 137, '2026-11-25 20:01:00.000', '10s', '5s'),
  ]);
  t.same(
    tasks.map((x: { process: string; tag: string | null }) => [x.process, x.tag]),
    [
      ['NFCORE_SCRNA:SCRNA:ALIGN', 'pbmc (lane 1)'],
      ['MERGE', null],
    ],
  );
  t.equal(run.status, 'FAILED', 'every task failed: the run did not complete');
  t.match(run.errorMessage, /2 of 2 tasks failed; the trace does not say whether they were ignored \(status inferred/);
  t.equal(run.startedAt, '2026-11-25T20:00:00.000Z', 'started with its first task');
  t.equal(run.completedAt, '2026-11-25T20:01:30.000Z', 'ended with its last (submit + realtime)');
  t.equal(run.timings.wallMs, 90_000);
});

t.test('a failure retried to success, or ignored, leaves the run COMPLETED', async (t) => {
  const p = await platformFor(t);
  const { run } = await upload(p, [
    row(1, 'QC (s1)', 'FAILED', 137, '2026-11-25 20:00:00.000', '1m', '1m'),
    row(2, 'QC (s2)', 'COMPLETED', 0, '2026-11-25 20:00:00.000', '1m', '1m'),
    row(3, 'QC (s1)', 'COMPLETED', 0, '2026-11-25 20:01:00.000', '1m', '1m'),
  ]);
  t.equal(run.status, 'COMPLETED', 'the retry of QC (s1) succeeded');
  t.equal(run.errorMessage, null);
  const failed = await upload(p, [
    row(1, 'QC (s1)', 'COMPLETED', 0, '2026-11-25 20:00:00.000', '1m', '1m'),
    row(2, 'QC (s2)', 'FAILED', 1, '2026-11-25 20:00:00.000', '1m', '1m'),
  ]);
  t.equal(failed.run.status, 'COMPLETED', 'one failure without an error_action may have been ignored: not called a failure');
  t.match(failed.run.errorMessage, /1 of 2 tasks failed; the trace does not say whether they were ignored/, 'but the guess is said');
});

t.test('a failure that ended the run (error_action TERMINATE) fails it', async (t) => {
  const p = await platformFor(t);
  const r = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace',
    payload: 'task_id\tname\tstatus\terror_action\n1\tA (x)\tCOMPLETED\t-\n2\tB (y)\tFAILED\tTERMINATE\n',
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(r.json().run.status, 'FAILED');
  t.match(r.json().run.errorMessage, /1 of 2 tasks failed and ended the run/);
});
