// Events and the trace file of the same run converge on the same task rows in any order, with duplicates.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { EventRecorder } from '../../api/src/domain/event-recorder.js';
import type { IncomingEvent } from '../../api/src/domain/ports.js';
import { parseTrace } from '../../api/src/domain/trace-parser.js';
import type { WeblogEvent } from '../../api/src/domain/weblog.js';
import { repoRoot } from '../helpers/paths.js';
import { reposFor } from './repos-helpers.js';

const fixtures = path.join(repoRoot, 'test/api/fixtures');
// Recorded from real runs (nf-capture/capture-events.ts): what the nf-scrna plugin posted, and Nextflow's trace file.
const load = async (name: string) => ({
  events: JSON.parse(await readFile(path.join(fixtures, `${name}-events.json`), 'utf8')) as WeblogEvent[],
  trace: await readFile(path.join(fixtures, `${name}-trace.txt`)),
});
const cases = [
  {
    name: 'capture',
    runs: 1000,
    expect: [
      [1, 1, 'FAILED'],
      [2, 1, 'COMPLETED'],
      [3, 1, 'FAILED'],
      [4, 1, 'COMPLETED'],
      [5, 2, 'COMPLETED'],
      [6, 1, 'COMPLETED'],
    ],
  },
  {
    name: 'capture-resume',
    runs: 200,
    expect: [
      [1, 1, 'FAILED'],
      [2, 1, 'CACHED'],
      [3, 2, 'CACHED'],
      [4, 1, 'CACHED'],
      [5, 1, 'CACHED'],
    ],
  },
];

type Step = { kind: 'events'; idx: number[] } | { kind: 'trace' };

for (const c of cases)
  t.test(`${c.name}: any interleaving of events, trace and duplicates gives identical task rows`, async (t) => {
    const { events, trace } = await load(c.name);
    const { repos, conn } = await reposFor(t, 'conv');
    const recorder = new EventRecorder(repos);
    const snapshot = async (runId: string) =>
      (await conn.pool.query('SELECT * FROM tasks WHERE run_id = $1 ORDER BY task_id, attempt', [runId])).rows.map(
        ({ run_id: _, ...r }) => r,
      );
    const apply = async (runId: string, steps: Step[]) => {
      for (const s of steps) {
        if (s.kind === 'trace') await repos.tasks.import(runId, parseTrace([trace]));
        else
          await recorder.apply(
            s.idx.map(
              (i): IncomingEvent => ({
                event: events[i]!,
                tokenRunId: runId,
                owner: null,
                project: 'default',
                admin: false,
                receivedAt: new Date(1_800_000_000_000),
              }),
            ),
          );
      }
    };
    const newRun = async () =>
      (await repos.runs.create({ id: crypto.randomUUID(), name: 'conv', status: 'SUBMITTED', source: 'platform' })).id;

    // Reference: all events in order, then the trace.
    const ref = await newRun();
    await apply(ref, [{ kind: 'events', idx: events.map((_, i) => i) }, { kind: 'trace' }]);
    const expected = await snapshot(ref);
    t.same(
      expected.map((r) => [r.task_id, r.attempt, r.status]),
      c.expect,
      'one row per task and attempt',
    );
    // The trace alone and the events alone each give the same tasks (the trace has every field the events carry).
    const traceOnly = await newRun();
    await apply(traceOnly, [{ kind: 'trace' }]);
    t.same(
      (await snapshot(traceOnly)).map((r) => [r.task_id, r.attempt, r.status]),
      c.expect,
    );

    // Every event at least once, plus duplicates, in any order, split into batches of any size, with the trace anywhere (once or twice).
    const all = events.map((_, i) => i);
    const arbSteps = fc
      .array(fc.nat(events.length - 1), { maxLength: 12 })
      .chain((dups) => {
        const seq = [...all, ...dups];
        return fc.tuple(
          fc.shuffledSubarray(seq, { minLength: seq.length }),
          fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 30 }),
          fc.integer({ min: 0, max: 40 }),
          fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        );
      })
      .map(([shuffled, sizes, tracePos, trace2]) => {
        const steps: Step[] = [];
        let i = 0;
        let k = 0;
        while (i < shuffled.length) {
          const n = sizes[k++ % sizes.length]!;
          steps.push({ kind: 'events', idx: shuffled.slice(i, i + n) });
          i += n;
        }
        steps.splice(Math.min(tracePos, steps.length), 0, { kind: 'trace' });
        if (trace2 !== undefined) steps.splice(Math.min(trace2, steps.length), 0, { kind: 'trace' });
        return steps;
      });

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(arbSteps, async (steps) => {
        const id = await newRun();
        await apply(id, steps);
        runs++;
        const got = await snapshot(id);
        if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`diverged: ${JSON.stringify(got)}`);
      }),
      { numRuns: c.runs },
    );
    t.equal(runs, c.runs, `checked ${c.runs} random interleavings`);
    const evs = await conn.pool.query('SELECT count(*)::int AS n FROM events WHERE run_id = $1', [ref]);
    t.equal(evs.rows[0].n, events.length, 'raw events kept once each');
  });
