// Who may report on which run, decided before an event batch is answered 202 (so a refused event is never "accepted").
import { checkNamedRun, type Principal } from './auth.js';
import { DomainError } from './errors.js';
import type { RunRepository } from './repositories.js';
import type { WeblogEvent } from './weblog.js';

export class EventAccess {
  /** (project, session, run name) -> allowed, so a head node's stream of events costs one lookup per run. */
  private readonly allowed = new Map<string, { ok: boolean; at: number }>();

  constructor(
    private readonly runs: Pick<RunRepository, 'findNextflow'>,
    private readonly ttlMs = 30_000,
  ) {}

  /**
   * Throws 403 naming the first event the caller may not send: one that names a platform run without that run's
   * token, or (from a non-admin API token) one that would join a Nextflow run of another project.
   */
  async check(p: Principal, events: WeblogEvent[], fieldOf: (i: number) => string): Promise<void> {
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      checkNamedRun(p, ev.platformRunId, fieldOf(i) ? `${fieldOf(i)}.platformRunId` : 'platformRunId');
      if (p.kind !== 'api' || p.admin) continue;
      if (!(await this.mayJoin(p.project, ev.runId, ev.runName)))
        throw new DomainError(
          'forbidden',
          `${fieldOf(i) || 'event'}: Nextflow run ${ev.runName} (${ev.runId}) belongs to another project`,
          {
            field: fieldOf(i) ? `${fieldOf(i)}.runId` : 'runId',
          },
        );
    }
  }

  private async mayJoin(project: string, sessionId: string, runName: string): Promise<boolean> {
    const key = `${project}\u0000${sessionId}\u0000${runName}`;
    const hit = this.allowed.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.ok;
    const [run] = await this.runs.findNextflow([{ sessionId, runName }]);
    // No such run yet: this token's first event creates it, in its project.
    const ok = run === undefined || run.project === project;
    if (this.allowed.size > 10_000) this.allowed.clear();
    this.allowed.set(key, { ok, at: Date.now() });
    return ok;
  }
}
