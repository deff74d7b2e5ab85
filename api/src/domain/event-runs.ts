// Which run each event of a batch belongs to, decided from what the repositories found; the caller creates the runs
// the decision asks for and decides again.
import { DomainError } from './errors.js';
import type { IncomingEvent } from './ports.js';

/** How Nextflow names a run: its session id and run name. */
export interface NextflowKey {
  sessionId: string;
  runName: string;
}

export interface NextflowRun extends NextflowKey {
  id: string;
  owner: string | null;
  project: string;
}

export type NewNextflowRun = Omit<NextflowRun, 'id'>;

export interface EventRunPlan {
  /** The run of each event; null where its Nextflow run is one to create. */
  runOf: (string | null)[];
  /** Nextflow runs first seen in this batch, in the project (and owned by) the token that sent their (last) event. */
  create: NewNextflowRun[];
  /** Platform runs and the Nextflow identity their (last) event reports. */
  bind: { id: string; key: NextflowKey }[];
}

const keyText = (k: NextflowKey) => `${k.sessionId}\u0000${k.runName}`;

/**
 * An event belongs to the run of the per-run token that sent it; else to the platform run it names, if there is one;
 * else to the run Nextflow knows by its (session id, run name), which a non-admin token may join only in its project.
 */
export function decideEventRuns(
  events: readonly IncomingEvent[],
  found: { platformRuns: ReadonlySet<string>; nextflowRuns: readonly NextflowRun[] },
): EventRunPlan {
  const byKey = new Map(found.nextflowRuns.map((r) => [keyText(r), r]));
  const create = new Map<string, NewNextflowRun>();
  const bind = new Map<string, NextflowKey>();
  const runOf = events.map((ie) => {
    const key = { sessionId: ie.event.runId, runName: ie.event.runName };
    const named = ie.event.platformRunId;
    const platform = ie.tokenRunId ?? (named && found.platformRuns.has(named) ? named : null);
    if (platform) {
      bind.set(platform, key);
      return platform;
    }
    const run = byKey.get(keyText(key));
    if (!run) {
      create.set(keyText(key), { ...key, owner: ie.owner, project: ie.project });
      return null;
    }
    // The events route refuses a foreign run up front; this catches another token creating it meanwhile.
    if (!ie.admin && run.project !== ie.project)
      throw new DomainError('forbidden', `Nextflow run ${ie.event.runName} belongs to another project`, { field: 'runId' });
    return run.id;
  });
  return { runOf, create: [...create.values()], bind: [...bind].map(([id, key]) => ({ id, key })) };
}
