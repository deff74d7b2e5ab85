// The Timeline tab in Chromium against the real API: bars are read back from the canvas's pixels and its hover, at
// the positions the uploaded trace says, for a trace with Nextflow's default columns (no start/complete: bars from
// submit + duration and realtime) and for one with start/complete, and a run of more tasks than the old 1,000 cap.
import t, { type Test } from 'tap';
import { browserSession } from './platform.js';

const { base, page, pageErrors } = await browserSession(t, 'timeline');

interface Bar {
  name: string;
  process: string;
  status: string;
  /** The times the test expects the bar at (ms), from the trace's own fields. */
  queued: number;
  start: number;
  end: number;
}

const ms = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);
const shown = (v: number) => new Date(v).toISOString().replace('T', ' ').slice(0, 19);

async function importTrace(name: string, lines: string[]): Promise<string> {
  const r = await fetch(`${base}/api/v1/runs/trace?name=${name}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: `${lines.join('\n')}\n`,
  });
  t.equal(r.status, 201, `${name} imported`);
  return ((await r.json()) as { run: { id: string } }).run.id;
}

interface Geometry {
  t0: number;
  t1: number;
  left: number;
  plotWidth: number;
  top: number;
  rowHeight: number;
  lanes: { process: string; firstRow: number; rows: number }[];
}

async function openTimeline(runId: string): Promise<Geometry> {
  await page.goto(`${base}/runs/${runId}/timeline`);
  const canvas = page.getByTestId('gantt');
  await canvas.waitFor();
  return JSON.parse((await canvas.getAttribute('data-geometry')) as string) as Geometry;
}

/** The canvas pixel at CSS position (x, y) as [r, g, b], over the panel's white (the canvas is transparent between lanes). */
const pixel = (x: number, y: number) =>
  page.evaluate(
    ([px, py]) => {
      const c = document.querySelector('[data-testid=gantt]') as HTMLCanvasElement;
      const dpr = c.width / c.clientWidth;
      const [r, g, b, a] = c.getContext('2d')!.getImageData(Math.round(px! * dpr), Math.round(py! * dpr), 1, 1).data;
      return [r!, g!, b!].map((v) => Math.round((v * a! + 255 * (255 - a!)) / 255));
    },
    [x, y],
  );

const STATUS_RGB: Record<string, number[]> = { COMPLETED: [22, 121, 76], FAILED: [194, 38, 29] };
const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 8);

/** Checks each bar's pixels and hover against the times the trace gives. */
async function checkBars(t: Test, g: Geometry, bars: Bar[]) {
  const t0 = Math.min(...bars.map((b) => Math.min(b.queued, b.start)));
  const t1 = Math.max(...bars.map((b) => b.end));
  t.same([g.t0, g.t1], [t0, t1], 'the axis spans the first submit to the last end');
  const x = (v: number) => g.left + ((v - t0) / (t1 - t0)) * g.plotWidth;
  const box = (await page.getByTestId('gantt').boundingBox())!;
  for (const b of bars) {
    const lane = g.lanes.find((l) => l.process === b.process);
    t.ok(lane, `${b.process} has a lane`);
    if (!lane) continue;
    t.equal(lane.rows, 1, `${b.process}: one task, one row`);
    const y = g.top + lane.firstRow * g.rowHeight + g.rowHeight / 2;
    const dark = STATUS_RGB[b.status]!;
    for (const f of [0.1, 0.5, 0.9])
      t.ok(near(await pixel(x(b.start + f * (b.end - b.start)), y), dark), `${b.name}: running colour at ${f * 100}% of its bar`);
    t.notOk(near(await pixel(x(b.end) + 4, y), dark), `${b.name}: nothing drawn after its end`);
    if (x(b.start) - x(b.queued) > 8) {
      const q = await pixel((x(b.queued) + x(b.start)) / 2, y);
      t.ok(!near(q, dark) && q.some((v, i) => v !== [255, 255, 255][i]), `${b.name}: queued part light, from submit to start`);
    } else if (x(b.start) - 4 > g.left) t.notOk(near(await pixel(x(b.start) - 4, y), dark), `${b.name}: nothing drawn before its start`);

    await page.mouse.move(box.x + x((b.start + b.end) / 2), box.y + y);
    const tip = page.getByTestId('timeline-tip');
    await tip.waitFor();
    t.match(await tip.textContent(), b.name, `hover names ${b.name}`);
    t.equal(await page.getByTestId('tip-start').textContent(), shown(b.start), `${b.name}: start`);
    t.equal(await page.getByTestId('tip-end').textContent(), shown(b.end), `${b.name}: end`);
  }
}

t.test('a trace with Nextflow default columns: bars from submit + duration, start = end - realtime', async (t) => {
  const header = 'task_id\thash\tnative_id\tname\tstatus\texit\tsubmit\tduration\trealtime\t%cpu\tpeak_rss\tpeak_vmem\trchar\twchar';
  const rows: [number, string, string, string, string, number, number][] = [
    // id, name, status, submit, duration, realtime (s)
    [1, 'NFCORE_SCRNA:SCRNA:ALIGN (s1)', 'COMPLETED', '2026-11-25 20:00:00.000', '1m', 60, 40],
    [2, 'NFCORE_SCRNA:SCRNA:COUNT (s1)', 'COMPLETED', '2026-11-25 20:00:30.000', '1m 30s', 90, 90],
    [3, 'NFCORE_SCRNA:SCRNA:QC (s1)', 'FAILED', '2026-11-25 20:02:00.000', '30s', 30, 10],
    [4, 'NFCORE_SCRNA:SCRNA:MERGE', 'COMPLETED', '2026-11-25 20:01:00.000', '2m', 120, 60],
  ];
  const id = await importTrace('default-columns', [
    header,
    ...rows.map(([n, name, status, submit, dur, , real]) =>
      [
        n,
        `0${n}/abcdef`,
        100 + n,
        name,
        status,
        status === 'FAILED' ? 1 : 0,
        submit,
        dur,
        `${real}s`,
        '95.0%',
        '10 MB',
        '20 MB',
        '1 KB',
        '2 KB',
      ].join('\t'),
    ),
  ]);
  const g = await openTimeline(id);
  t.match(await page.getByTestId('timeline-basis').textContent(), /all from submit \+ duration/, 'says the bars are derived');
  await checkBars(
    t,
    g,
    rows.map(([, name, status, submit, , dur, real]) => {
      const end = ms(submit) + dur * 1000;
      return { name, process: name.split(' (')[0]!, status, queued: ms(submit), start: end - real * 1000, end };
    }),
  );
});

t.test('a trace with start and complete: bars from those, not from duration', async (t) => {
  const header = 'task_id\thash\tname\tstatus\texit\tsubmit\tstart\tcomplete\tduration\trealtime';
  // duration/realtime disagree with start/complete on purpose: the recorded times must win.
  const rows: [number, string, string, string, string][] = [
    [1, 'A (x)', '2026-11-25 08:00:00.000', '2026-11-25 08:00:20.000', '2026-11-25 08:01:00.000'],
    [2, 'B (x)', '2026-11-25 08:00:10.000', '2026-11-25 08:00:10.000', '2026-11-25 08:00:40.000'],
    [3, 'C (y)', '2026-11-25 08:01:00.000', '2026-11-25 08:01:30.000', '2026-11-25 08:02:00.000'],
  ];
  const id = await importTrace('start-complete', [
    header,
    ...rows.map(([n, name, submit, start, complete]) =>
      [n, `0${n}/ff`, name, 'COMPLETED', 0, submit, start, complete, '5s', '1s'].join('\t'),
    ),
  ]);
  const g = await openTimeline(id);
  t.match(await page.getByTestId('timeline-basis').textContent(), /all from start → complete/);
  await checkBars(
    t,
    g,
    rows.map(([, name, submit, start, complete]) => ({
      name,
      process: name.split(' (')[0]!,
      status: 'COMPLETED',
      queued: ms(submit),
      start: ms(start),
      end: ms(complete),
    })),
  );
});

t.test('every task of a 3,000-task run is drawn (the old page stopped at 1,000)', async (t) => {
  const n = 3000;
  const lines = ['task_id\tname\tstatus\tsubmit\tstart\tcomplete'];
  const at = (s: number) => new Date(Date.UTC(2026, 10, 25, 9) + s * 1000).toISOString().replace('T', ' ').replace('Z', '');
  // Four processes, eight at a time, one second each, so the lanes hold eight rows.
  for (let i = 1; i <= n; i++) {
    const s = Math.floor((i - 1) / 8);
    lines.push([i, `P${i % 4} (t${i})`, 'COMPLETED', at(s), at(s), at(s + 1)].join('\t'));
  }
  const id = await importTrace('many', lines);
  const g = await openTimeline(id);
  t.match(await page.getByTestId('timeline-count').textContent(), /3,000 of 3,000 tasks/);
  t.same(g.lanes.map((l) => l.process).sort(), ['P0', 'P1', 'P2', 'P3'], 'one lane per process');
  t.ok(
    g.lanes.every((l) => l.rows === 2),
    'concurrent tasks stacked: 8 at a time over 4 processes is 2 rows per lane',
  );
  // The very last task: drawn at the right end of its lane.
  const last = g.lanes.find((l) => l.process === `P${n % 4}`)!;
  const x = g.left + g.plotWidth * (1 - 0.5 / (Math.ceil(n / 8) * 1));
  const ys = Array.from({ length: last.rows }, (_, r) => g.top + (last.firstRow + r) * g.rowHeight + g.rowHeight / 2);
  const hits = await Promise.all(ys.map((y) => pixel(x, y)));
  t.ok(
    hits.some((p) => near(p, STATUS_RGB.COMPLETED!)),
    'the last task is drawn',
  );
  t.same(pageErrors, [], 'no page errors');
});
