// Writes a batch of events in one transaction: the raw events (deduplicated), the runs they belong to (created when
// Nextflow names one first seen), their task observations merged, and what they tell about each run.
import { decideEventRuns, type NextflowRun } from './event-runs.js';
import { type IncomingEvent, RUN_STATUS_RANK } from './ports.js';
import type { EventRecord, Repositories, RunEventFacts, RunRepository, RunTaskObservation } from './repositories.js';
import { mergeObservations } from './task-fields.js';
import { dedupeKey, observationFromEvent, runFactsFromEvent } from './weblog.js';

const int = (v: unknown) => (Number.isInteger(v) ? (v as number) : null);

function recordOf(ie: IncomingEvent, runId: string): EventRecord {
  const e = ie.event;
  return {
    runId,
    dedupeKey: dedupeKey(e),
    event: e.event,
    seq: int(e.seq),
    taskId: int(e.trace?.task_id),
    attempt: int(e.trace?.attempt),
    receivedAt: ie.receivedAt,
    body: e,
  };
}

/** Adds one stored event to its run's facts: counters, the highest status by RUN_STATUS_RANK, the latest other facts. */
function addFacts(a: RunEventFacts | undefined, ie: IncomingEvent, seq: number | null): RunEventFacts {
  const f = a ?? { events: 0, lastEventAt: ie.receivedAt, maxSeq: null, status: null, facts: {} };
  f.events++;
  if (ie.receivedAt > f.lastEventAt) f.lastEventAt = ie.receivedAt;
  if (seq !== null) f.maxSeq = Math.max(f.maxSeq ?? 0, seq);
  const { status, ...facts } = runFactsFromEvent(ie.event);
  if (status && (f.status === null || RUN_STATUS_RANK[status] > RUN_STATUS_RANK[f.status])) f.status = status;
  for (const [k, v] of Object.entries(facts)) if (v !== undefined && v !== null) (f.facts as Record<string, unknown>)[k] = v;
  return f;
}

export class EventRecorder {
  /** Platform runs already told their Nextflow identity (saves a statement per event batch). */
  private readonly bound = new Set<string>();

  constructor(private readonly repos: Pick<Repositories, 'transaction'>) {}

  async apply(events: IncomingEvent[]): Promise<{ stored: number; runIds: string[] }> {
    if (!events.length) return { stored: 0, runIds: [] };
    return this.repos.transaction(async (tx) => {
      const runOf = await this.resolveRuns(tx.runs, events);
      // Same lock order as trace imports: a run's row first, then its tasks.
      await tx.runs.lock([...new Set(runOf)]);
      const records = events.map((ie, i) => recordOf(ie, runOf[i]!));
      const stored = await tx.events.insert(records);
      const fresh = new Set(stored.map((r) => `${r.runId}|${r.dedupeKey}`));
      const tasks = new Map<string, RunTaskObservation>();
      const runs = new Map<string, RunEventFacts>();
      events.forEach((ie, i) => {
        const { runId, dedupeKey, seq } = records[i]!;
        if (!fresh.delete(`${runId}|${dedupeKey}`)) return; // duplicate (in this batch or already stored)
        runs.set(runId, addFacts(runs.get(runId), ie, seq));
        const o = observationFromEvent(ie.event);
        if (!o) return;
        const k = `${runId}|${o.taskId}|${o.attempt}`;
        const prev = tasks.get(k);
        tasks.set(k, { ...(prev ? mergeObservations(prev, o) : o), runId });
      });
      if (tasks.size) await tx.tasks.merge([...tasks.values()]);
      for (const [id, f] of runs) await tx.runs.addEventFacts(id, f);
      return { stored: stored.length, runIds: [...runs.keys()] };
    });
  }

  /** The run of each event (decideEventRuns), after binding platform runs and creating the Nextflow runs it asks for. */
  private async resolveRuns(runs: RunRepository, events: IncomingEvent[]): Promise<string[]> {
    const named = [...new Set(events.map((e) => e.event.platformRunId).filter((x): x is string => !!x))];
    const platformRuns = named.length ? await runs.existingIds(named) : new Set<string>();
    let nextflowRuns: NextflowRun[] = [];
    let plan = decideEventRuns(events, { platformRuns, nextflowRuns });
    for (const { id, key } of plan.bind) {
      if (this.bound.has(id)) continue;
      await runs.bindNextflow(id, key);
      this.bound.add(id);
    }
    // The keys left over are looked up first, and only the ones still unknown are created.
    if (plan.create.length) {
      nextflowRuns = await runs.findNextflow(plan.create);
      plan = decideEventRuns(events, { platformRuns, nextflowRuns });
    }
    if (plan.create.length) {
      await runs.createNextflow(plan.create);
      nextflowRuns = [...nextflowRuns, ...(await runs.findNextflow(plan.create))];
      plan = decideEventRuns(events, { platformRuns, nextflowRuns });
    }
    return plan.runOf.map((id) => {
      if (!id) throw new Error('event run could not be resolved');
      return id;
    });
  }
}
