// A run's progress: its task rows counted by status, for the run and for each process.
import type { Progress } from './ports.js';
import type { TaskRepository } from './repositories.js';

/** Counts by status folded into Progress; a status outside it counts only towards the total. */
export function progressOf(counts: readonly { status: string; n: number }[]): Progress {
  const p: Progress = { submitted: 0, running: 0, completed: 0, failed: 0, cached: 0, aborted: 0, total: 0 };
  for (const { status, n } of counts) {
    const k = status.toLowerCase() as keyof Progress;
    if (k in p && k !== 'total') p[k] += n;
    p.total += n;
  }
  return p;
}

export async function runProgress(tasks: Pick<TaskRepository, 'statusCounts'>, runId: string): Promise<Progress> {
  return progressOf(await tasks.statusCounts(runId));
}

export async function processProgress(
  tasks: Pick<TaskRepository, 'processStatusCounts'>,
  runId: string,
): Promise<{ process: string; counts: Progress }[]> {
  const by = new Map<string, { status: string; n: number }[]>();
  for (const r of await tasks.processStatusCounts(runId)) by.set(r.process, [...(by.get(r.process) ?? []), r]);
  return [...by].map(([process, rows]) => ({ process, counts: progressOf(rows) }));
}
