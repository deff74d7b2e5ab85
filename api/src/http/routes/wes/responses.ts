// Shaping platform runs and tasks as WES 1.1 answers. WES fields are strings or absent, never null, so every optional
// field is left out when the platform has no value for it.
import type { OutputRow, Run, TaskRow } from '../../../domain/ports.js';
import { wesRequestOf } from '../../../domain/wes.js';
import { WES_STATE_OF } from '../../../domain/wes-states.js';

/** Where URLs in answers point: the API as the client reached it, and the two prefixes. */
export interface Urls {
  origin: string;
  wes: string;
  api: string;
}

/** The entries of `o` whose value is neither null nor undefined. */
function present<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as never;
}

const runUrl = (u: Urls, id: string) => `${u.origin}${u.api}/runs/${id}`;

export const runStatus = (run: Run) => ({ run_id: run.id, state: WES_STATE_OF[run.status] });

export const runSummary = (run: Run) => ({
  ...runStatus(run),
  ...present({ start_time: run.startedAt, end_time: run.completedAt }),
  tags: run.labels,
});

/** The outputs the manifest lists, by path, each with the URL the platform serves it at. */
function outputsOf(u: Urls, run: Run, outputs: OutputRow[]) {
  return Object.fromEntries(
    outputs.map((o) => [
      o.path,
      {
        url: `${runUrl(u, run.id)}/outputs/${o.path.split('/').map(encodeURIComponent).join('/')}`,
        size: o.size,
        sha256: o.sha256,
        kind: o.kind,
        ...present({ sample: o.sample }),
      },
    ]),
  );
}

export const runLog = (u: Urls, run: Run, outputs: OutputRow[]) => ({
  run_id: run.id,
  request: wesRequestOf(run),
  state: WES_STATE_OF[run.status],
  run_log: present({
    name: run.name,
    cmd: run.commandLine ? [run.commandLine] : null,
    start_time: run.startedAt,
    end_time: run.completedAt,
    // Nextflow's own log (.nextflow.log) is the run's output; it has no separate stderr.
    stdout: run.launchDir ? `${runUrl(u, run.id)}/log` : null,
    exit_code: run.exitStatus,
    system_logs: run.errorMessage ? [run.errorMessage] : null,
  }),
  task_logs_url: `${u.origin}${u.wes}/runs/${run.id}/tasks`,
  outputs: outputsOf(u, run, outputs),
});

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

export function taskLog(u: Urls, run: Run, t: TaskRow) {
  const logs = `${runUrl(u, run.id)}/tasks/${t.task_id}/log`;
  return {
    id: String(t.task_id),
    name: str(t.name) ?? str(t.process) ?? `task ${t.task_id}`,
    ...present({
      start_time: str(t.start),
      end_time: str(t.complete),
      stdout: `${logs}?stream=out`,
      stderr: `${logs}?stream=err`,
      exit_code: typeof t.exit === 'number' ? t.exit : null,
      system_logs: [`status: ${t.status}`, `attempt: ${t.attempt}`, ...(t.native_id ? [`native_id: ${t.native_id}`] : [])],
    }),
  };
}
