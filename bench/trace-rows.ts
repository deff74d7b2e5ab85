// The synthetic raw-mode trace the trace-import and task-table benchmarks share: the platform's own trace fields
// (nextflow.config), five processes, 97 tags, one task in 50 FAILED.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export const FIELDS =
  'task_id,hash,native_id,process,tag,name,status,exit,attempt,submit,start,complete,duration,realtime,%cpu,%mem,peak_rss,peak_vmem,rchar,wchar,cpus,memory,time,workdir,queue,container,error_action'.split(
    ',',
  );
const PROCS = ['REGISTER', 'STARSOLO', 'QC', 'INTEGRATE', 'REPORT'];

export function row(i: number): Record<string, string | number> {
  const submit = 1_795_000_000_000 + i * 37;
  const hash = (i * 2654435761).toString(16).padStart(8, '0').slice(-8);
  const proc = PROCS[i % PROCS.length]!;
  return {
    task_id: i + 1,
    hash: `${hash.slice(0, 2)}/${hash.slice(2)}`,
    native_id: 100000 + i,
    process: proc,
    tag: `S${i % 97}`,
    name: `${proc} (S${i % 97})`,
    status: i % 50 === 0 ? 'FAILED' : 'COMPLETED',
    exit: i % 50 === 0 ? 1 : 0,
    attempt: 1,
    submit,
    start: submit + 500,
    complete: submit + 500 + (i % 9000),
    duration: 500 + (i % 9000),
    realtime: i % 9000,
    '%cpu': ((i % 1999) / 10).toFixed(1),
    '%mem': ((i % 300) / 10).toFixed(1),
    peak_rss: 1_000_000 + i * 13,
    peak_vmem: 4_000_000 + i * 17,
    rchar: i * 101,
    wchar: i * 53,
    cpus: 1 + (i % 4),
    memory: 2147483648,
    time: 3600000,
    workdir: `/scratch/work/${hash.slice(0, 2)}/${hash}${'0'.repeat(22)}`,
    queue: '-',
    container: '-',
    error_action: i % 50 === 0 ? 'TERMINATE' : '-',
  };
}

/** Writes the lines to a file in 1 MiB chunks. */
export async function write(file: string, lines: Iterable<string>) {
  const out = createWriteStream(file);
  let buf = '';
  for (const l of lines) {
    buf += l;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** The trace file's lines: the header, then `rows` rows. */
export function* traceLines(rows: number) {
  yield `${FIELDS.join('\t')}\n`;
  for (let i = 0; i < rows; i++) {
    const r = row(i);
    yield `${FIELDS.map((f) => r[f]).join('\t')}\n`;
  }
}
