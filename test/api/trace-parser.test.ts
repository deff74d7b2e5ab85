// The trace parser on real traces of every format Nextflow writes, and on malformed files.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { TaskObservation } from '../../api/src/domain/task-fields.js';
import { parseTrace, TraceParseError } from '../../api/src/domain/trace-parser.js';
import { parseDate, parseDuration, parseMemory } from '../../api/src/domain/values.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = path.join(repoRoot, 'test/api/fixtures');

async function parse(text: string | Buffer, opts = {}): Promise<TaskObservation[]> {
  const out: TaskObservation[] = [];
  for await (const b of parseTrace([typeof text === 'string' ? Buffer.from(text) : text], opts)) out.push(...b);
  return out;
}
const fixture = (name: string) => readFile(path.join(fixtures, name));
const byId = (rows: TaskObservation[]) => new Map(rows.map((r) => [r.taskId, r]));

t.test('value formats: durations, memory units, dates', async (t) => {
  t.equal(parseDuration('2h 31m 27s'), 9_087_000);
  t.equal(parseDuration('1d 1h 1s'), 90_001_000);
  t.equal(parseDuration('1.1s'), 1100);
  t.equal(parseDuration('800ms'), 800);
  t.equal(parseDuration('0ms'), 0);
  t.equal(parseDuration('3h'), 10_800_000);
  t.equal(parseDuration('12 parsecs'), undefined);
  t.equal(parseMemory('9.8 MB'), Math.round(9.8 * 1024 * 1024));
  t.equal(parseMemory('1000 B'), 1000);
  t.equal(parseMemory('0'), 0);
  t.equal(parseMemory('6.4 GB'), Math.round(6.4 * 1024 ** 3));
  t.equal(parseMemory('lots'), undefined);
  t.equal(parseDate('2014-10-06 12:03:02.622', 'UTC'), Date.UTC(2014, 9, 6, 12, 3, 2, 622));
  t.equal(parseDate('2026-11-25 21:24:47.783', 'Europe/Berlin'), Date.UTC(2026, 10, 25, 20, 24, 47, 783), 'CET is UTC+1 in November');
  t.equal(parseDate('2026-07-01 02:00:00.000', 'Europe/Berlin'), Date.UTC(2026, 6, 1, 0, 0, 0), 'CEST is UTC+2 in July');
  t.equal(parseDate('2026-07-01 02:00:00.000', '+05:30'), Date.UTC(2026, 5, 30, 20, 30, 0));
  t.equal(parseDate('1795638266590', 'Europe/Berlin'), 1795638266590, 'raw epoch ms ignore the zone');
  t.equal(parseDate('0', 'UTC'), null);
  t.equal(parseDate('2026-13-01 00:00:00.000', 'UTC'), undefined);
});

t.test('raw mode, every field', async (t) => {
  const rows = await parse(await fixture('trace-raw-all.txt'));
  t.equal(rows.length, 6);
  const r = byId(rows);
  const retried = r.get(3)!;
  t.equal(retried.status, 'FAILED');
  t.equal(retried.attempt, 1);
  t.equal(retried.values.exit, 140);
  t.equal(retried.values.error_action, 'RETRY');
  t.equal(retried.values.submit, 1795638266590);
  t.equal(retried.values.pct_cpu, undefined, '`-` is missing');
  const ok = r.get(1)!;
  t.equal(ok.values.pct_cpu, 46.2);
  t.equal(ok.values.rchar, 210296);
  t.equal(ok.values.cpu_model, 'AMD EPYC');
  t.equal(ok.values.process, 'ALIGN');
  t.equal(ok.values.tag, 's1');
  t.equal(r.get(5)!.attempt, 2);
});

t.test('normal mode, default fields, UTC', async (t) => {
  const r = byId(await parse(await fixture('trace-default.txt')));
  t.equal(r.size, 6);
  t.equal(r.get(1)!.values.submit, Date.UTC(2026, 10, 25, 20, 24, 39, 246));
  t.equal(r.get(1)!.values.duration, 189);
  t.equal(r.get(1)!.values.rchar, Math.round(205.4 * 1024));
  t.equal(r.get(1)!.values.pct_cpu, 20);
  t.equal(r.get(1)!.values.peak_rss, 0, 'bare 0 is zero bytes');
  t.equal(r.get(1)!.attempt, null, 'no attempt column');
});

t.test('reordered subset, comma separator, duplicate names, Berlin time', async (t) => {
  const r = byId(await parse(await fixture('trace-berlin-csv.txt'), { timeZone: 'Europe/Berlin' }));
  t.equal(r.size, 6);
  const s3 = r.get(4)!;
  t.equal(s3.values.rss, 3207168, 'the raw duplicate (rss:num) wins over the rounded 3.1 MB');
  t.equal(s3.values.duration, 438);
  t.equal(s3.values.submit, Date.UTC(2026, 10, 25, 20, 24, 48, 141));
  t.equal(s3.values.peak_vmem, Math.round(4.3 * 1024 * 1024));
  t.equal(s3.attempt, 1);
  t.equal(r.get(5)!.attempt, 2);
});

t.test("Nextflow's own test rows: long durations, GB, percentages over 100, Integer.MAX_VALUE", async (t) => {
  const r = byId(await parse(await fixture('trace-nextflow-tests.txt')));
  const m = r.get(3)!;
  t.equal(m.values.duration, 9087193, 'the raw duration column wins');
  t.equal(m.values.pct_cpu, 799.9);
  t.equal(m.values.rss, 6855577600);
  t.equal(m.values.rchar, 2147483647);
  t.equal(m.extra.queue, undefined);
  t.equal(m.values.queue, 'bigjobs');
  t.equal(r.get(19)!.values.duration, 90001000);
  t.equal(r.get(30)!.values.exit, 99);
});

t.test('-resume: CACHED rows', async (t) => {
  const rows = await parse(await fixture('trace-raw-resume.txt'));
  t.same(
    rows.map((r) => r.status),
    ['CACHED', 'CACHED', 'CACHED', 'CACHED', 'FAILED'],
  );
});

t.test('unknown columns are kept; CRLF and a missing final newline are fine', async (t) => {
  const rows = await parse('task_id\tstatus\taccelerator\taccelerator_type\r\n1\tCOMPLETED\t2\tnvidia-a10g\r\n2\tCOMPLETED\t-\t-');
  t.same(rows[0]!.extra, { accelerator: '2', accelerator_type: 'nvidia-a10g' });
  t.same(rows[1]!.extra, {});
});

t.test('malformed files are rejected with line and column', async (t) => {
  const bad = async (text: string | Buffer, line: number, column: number, match: RegExp, opts = {}) => {
    const err = await parse(text, opts).then(
      () => null,
      (e) => e,
    );
    t.type(err, TraceParseError, `${match}`);
    t.equal(err?.line, line, `line of ${match}`);
    t.equal(err?.column, column, `column of ${match}`);
    t.match(err?.message, match);
  };
  await bad('task_id\tstatus\texit\n1\tCOMPLETED\t0\n2\tCOMPLETED\n', 3, 12, /expected 3 columns, found 2/);
  await bad('task_id\tstatus\texit\n1\tCOMPLETED\t0\t9\n', 2, 15, /expected 3 columns, found 4/);
  await bad('task_id\tstatus\tduration\n1\tCOMPLETED\tforever\n', 2, 13, /'forever' is not a valid time value/);
  await bad('task_id\tstatus\trss\n1\tCOMPLETED\t12 parsecs\n', 2, 13, /rss/);
  await bad('task_id\tstatus\n1x\tCOMPLETED\n', 2, 1, /task_id/);
  await bad('task_id\tstatus\n1\tDANCING\n', 2, 3, /unknown task status/);
  await bad(Buffer.from([...Buffer.from('task_id\tstatus\n1\tCOMP'), 0xff, 0xfe, 0x00, ...Buffer.from('\n')]), 2, 7, /not UTF-8/);
  await bad(Buffer.from('task_id\tstatus\n1\tCOM\u0001PLETED\n'), 2, 6, /control character/);
  await bad(`task_id\tstatus\n1\t${'x'.repeat(2000)}\n`, 2, 1025, /longer than 1024 bytes/, { maxLineBytes: 1024 });
  await bad('hello\tworld\n', 1, 1, /no task_id column/);
  await bad('', 1, 1, /empty/);
});
