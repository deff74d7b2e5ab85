// Database rows as the domain's records: one mapper per record, shared by every repository that reads it.
import { deliveryHealth } from '../../domain/delivery.js';
import type { Run, RunStatus } from '../../domain/ports.js';

/** A uuid column's text form: anything else is no row (and never reaches Postgres as a cast error). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const iso = (d: Date | string | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

/** A runs row with its `labels` (jsonb object), `seq_count` (events with a sequence number) and `end_seq`. */
export function toRun(r: Record<string, unknown>): Run {
  return {
    id: r.id as string,
    name: r.name as string,
    status: r.status as RunStatus,
    source: r.source as Run['source'],
    sessionId: (r.session_id as string) ?? null,
    runName: (r.run_name as string) ?? null,
    submitter: (r.submitter as string) ?? null,
    owner: (r.owner as string) ?? null,
    project: r.project_id as string,
    params: (r.params as Record<string, unknown>) ?? {},
    profiles: (r.profiles as string[]) ?? [],
    samplesheet: (r.samplesheet as string) ?? null,
    commandLine: (r.command_line as string) ?? null,
    nextflowVersion: (r.nextflow_version as string) ?? null,
    launcher: (r.launcher as string) ?? null,
    launchDir: (r.launch_dir as string) ?? null,
    outdir: (r.outdir as string) ?? null,
    workDir: (r.work_dir as string) ?? null,
    nativeId: (r.native_id as string) ?? null,
    resumedFrom: (r.resumed_from as string) ?? null,
    errorMessage: (r.error_message as string) ?? null,
    exitStatus: (r.exit_status as number) ?? null,
    labels: (r.labels as Record<string, string>) ?? {},
    createdAt: iso(r.created_at as Date)!,
    updatedAt: iso(r.updated_at as Date)!,
    startedAt: iso(r.started_at as Date | null),
    completedAt: iso(r.completed_at as Date | null),
    resultsIngestedAt: iso(r.results_ingested_at as Date | null),
    delivery: deliveryHealth({
      eventsReceived: Number(r.events_received ?? 0),
      lastEventAt: iso(r.last_event_at as Date | null),
      maxSeq: (r.max_seq as number | null) ?? null,
      seqCount: Number(r.seq_count ?? 0),
      endSeq: r.end_seq === null || r.end_seq === undefined ? null : Number(r.end_seq),
      status: r.status as RunStatus,
    }),
  };
}
