// The domain's rule for which run an event belongs to (decideEventRuns): a pure function, no database.
import t from 'tap';
import { decideEventRuns, type NextflowRun } from '../../api/src/domain/event-runs.js';
import type { IncomingEvent } from '../../api/src/domain/ports.js';

const SESSION = '5f0c2b6e-8d1a-4c3e-9b7a-1e2d3c4b5a69';
const PLATFORM_RUN = '0b6f1d2e-3c4a-4b5c-8d6e-7f8091a2b3c4';

function incoming(over: Partial<IncomingEvent> & { platformRunId?: string; runName?: string } = {}): IncomingEvent {
  const { platformRunId, runName = 'happy_turing', ...rest } = over;
  return {
    event: { runId: SESSION, runName, event: 'started', ...(platformRunId ? { platformRunId } : {}) },
    tokenRunId: null,
    owner: 'token-a',
    project: 'lab-a',
    admin: false,
    receivedAt: new Date(0),
    ...rest,
  };
}

const nextflowRun = (over: Partial<NextflowRun> = {}): NextflowRun => ({
  id: 'nf-run',
  sessionId: SESSION,
  runName: 'happy_turing',
  owner: 'token-a',
  project: 'lab-a',
  ...over,
});

const nothing = { platformRuns: new Set<string>(), nextflowRuns: [] };

t.test("the per-run token's run wins over a named run and the Nextflow run", async (t) => {
  const plan = decideEventRuns([incoming({ tokenRunId: 'token-run', platformRunId: PLATFORM_RUN, owner: null })], {
    platformRuns: new Set([PLATFORM_RUN]),
    nextflowRuns: [nextflowRun()],
  });
  t.same(plan.runOf, ['token-run']);
  t.same(plan.create, []);
  t.same(plan.bind, [{ id: 'token-run', key: { sessionId: SESSION, runName: 'happy_turing' } }], 'told its Nextflow identity');
});

t.test('an event naming an existing platform run goes to that run', async (t) => {
  const plan = decideEventRuns([incoming({ platformRunId: PLATFORM_RUN, admin: true })], {
    platformRuns: new Set([PLATFORM_RUN]),
    nextflowRuns: [],
  });
  t.same(plan.runOf, [PLATFORM_RUN]);
  t.same(plan.create, []);
});

t.test('a named platform run that does not exist falls back to the Nextflow run', async (t) => {
  const plan = decideEventRuns([incoming({ platformRunId: PLATFORM_RUN, admin: true })], { ...nothing, nextflowRuns: [nextflowRun()] });
  t.same(plan.runOf, ['nf-run']);
});

t.test("the sender's existing Nextflow run is joined", async (t) => {
  const plan = decideEventRuns([incoming(), incoming()], { ...nothing, nextflowRuns: [nextflowRun()] });
  t.same(plan.runOf, ['nf-run', 'nf-run']);
  t.same(plan.create, []);
  t.same(plan.bind, [], 'a Nextflow run already has its identity');
});

t.test("another project's Nextflow run is refused to a non-admin token, allowed to an admin", async (t) => {
  const found = { ...nothing, nextflowRuns: [nextflowRun({ owner: 'token-b', project: 'lab-b' })] };
  t.throws(() => decideEventRuns([incoming()], found), { kind: 'forbidden', message: /belongs to another project/ });
  t.same(
    decideEventRuns([incoming()], { ...nothing, nextflowRuns: [nextflowRun({ owner: 'token-c' })] }).runOf,
    ['nf-run'],
    'another token of the same project joins',
  );
  t.same(decideEventRuns([incoming({ admin: true })], found).runOf, ['nf-run']);
});

t.test("an unseen Nextflow run is one to create, in the sending token's project, once per key", async (t) => {
  const plan = decideEventRuns([incoming(), incoming({ runName: 'other_run' }), incoming()], nothing);
  t.same(plan.runOf, [null, null, null]);
  t.same(plan.create, [
    { sessionId: SESSION, runName: 'happy_turing', owner: 'token-a', project: 'lab-a' },
    { sessionId: SESSION, runName: 'other_run', owner: 'token-a', project: 'lab-a' },
  ]);
  const created = decideEventRuns([incoming(), incoming({ runName: 'other_run' })], {
    ...nothing,
    nextflowRuns: [nextflowRun(), nextflowRun({ id: 'nf-other', runName: 'other_run' })],
  });
  t.same(created.runOf, ['nf-run', 'nf-other'], 'decided again once created');
});
