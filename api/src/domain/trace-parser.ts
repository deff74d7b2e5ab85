// Streaming parser for Nextflow trace files (TraceFileObserver): any field order and subset, normal and raw mode,
// `name:type[:pattern]` header cells, duplicate header names (keyed by position), `-` for missing, unknown columns kept.
import { FIELD_BY_TRACE, type FieldKind, TASK_STATUS_RANK, type TaskObservation, type TaskValue } from './task-fields.js';
import { EXIT_UNKNOWN, parseDate, parseDuration, parseInteger, parseMemory, parseNumber, parsePercent } from './values.js';

export class TraceParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly field?: string,
  ) {
    super(`line ${line}, column ${column}${field ? ` (${field})` : ''}: ${message}`);
  }
}

export interface TraceParseOptions {
  /** Zone of `yyyy-MM-dd HH:mm:ss.SSS` dates (the JVM's default zone when the trace was written). Default UTC. */
  timeZone?: string;
  /** Column separator; default: TAB, or `,` when the header has no TAB but has commas. */
  separator?: string;
  /** Longest accepted line in bytes. */
  maxLineBytes?: number;
  /** Observations per yielded batch. */
  batchSize?: number;
}

type Cell = { value: TaskValue; exact: boolean } | undefined;

interface Column {
  name: string;
  /** Index of the target column; -1 for unknown columns (kept in extra). */
  kind: FieldKind | 'task_id' | 'attempt' | 'status' | 'extra';
  column: string;
  extraKey: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
// Control characters other than TAB never occur in a trace written by Nextflow with parseable fields.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding binary junk is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

function parseCell(kind: FieldKind, s: string, tz: string): Cell {
  switch (kind) {
    case 'str':
      return { value: s, exact: true };
    case 'int': {
      const v = parseInteger(s);
      return v === undefined ? undefined : { value: v === EXIT_UNKNOWN ? null : v, exact: true };
    }
    case 'num': {
      const v = parseNumber(s);
      return v === undefined ? undefined : { value: Math.round(v), exact: true };
    }
    case 'date': {
      const v = parseDate(s, tz);
      return v === undefined ? undefined : { value: v, exact: /^\d+$/.test(s) };
    }
    case 'time': {
      const v = parseDuration(s);
      return v === undefined ? undefined : { value: v, exact: /^\d+$/.test(s) };
    }
    case 'mem': {
      const v = parseMemory(s);
      return v === undefined ? undefined : { value: v, exact: /^\d+$/.test(s) };
    }
    case 'perc': {
      const v = parsePercent(s);
      return v === undefined ? undefined : { value: v, exact: !s.endsWith('%') };
    }
  }
}

function headerColumns(cells: string[]): Column[] {
  const seen = new Map<string, number>();
  return cells.map((raw, i) => {
    // `name:type[:pattern]`: the header normally shows only the name, but accept the suffix when present.
    const name = raw.trim().split(':')[0]!;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const extraKey = n === 1 ? name : `${name}#${i + 1}`;
    if (name === 'task_id') return { name, kind: 'task_id', column: name, extraKey };
    if (name === 'attempt') return { name, kind: 'attempt', column: name, extraKey };
    if (name === 'status') return { name, kind: 'status', column: name, extraKey };
    const field = FIELD_BY_TRACE.get(name);
    if (field) return { name, kind: field.kind, column: field.column, extraKey };
    return { name, kind: 'extra', column: name, extraKey };
  });
}

/** Splits a byte stream into lines without decoding more than one line at a time. */
async function* lines(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  for await (const chunk of source) {
    const buf = carry.length ? Buffer.concat([carry, Buffer.from(chunk)]) : Buffer.from(chunk);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      lineNo++;
      if (nl - start > maxLineBytes) throw new TraceParseError(`line longer than ${maxLineBytes} bytes`, lineNo, maxLineBytes + 1);
      yield buf.subarray(start, nl);
      start = nl + 1;
    }
    carry = buf.subarray(start);
    if (carry.length > maxLineBytes) throw new TraceParseError(`line longer than ${maxLineBytes} bytes`, lineNo + 1, maxLineBytes + 1);
  }
  if (carry.length) yield carry;
}

function decodeLine(bytes: Buffer, lineNo: number): string {
  let s: string;
  try {
    s = decoder.decode(bytes);
  } catch {
    let ok = 0;
    while (ok < bytes.length && bytes[ok]! < 0x80) ok++;
    throw new TraceParseError('not UTF-8 text (binary data?)', lineNo, ok + 1);
  }
  if (s.endsWith('\r')) s = s.slice(0, -1);
  const bad = CONTROL.exec(s);
  if (bad) throw new TraceParseError(`control character 0x${bad[0].charCodeAt(0).toString(16)} (binary data?)`, lineNo, bad.index + 1);
  return s;
}

/** Yields batches of task observations; throws TraceParseError at the first malformed line. */
export async function* parseTrace(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  opts: TraceParseOptions = {},
): AsyncGenerator<TaskObservation[]> {
  const tz = opts.timeZone ?? 'UTC';
  const maxLineBytes = opts.maxLineBytes ?? 1 << 20;
  const batchSize = opts.batchSize ?? 5000;
  let columns: Column[] | null = null;
  let sep = opts.separator ?? '\t';
  let lineNo = 0;
  let batch: TaskObservation[] = [];
  let taskIdAt = -1;
  let statusAt = -1;
  let exitAt = -1;
  for await (const bytes of lines(source, maxLineBytes)) {
    lineNo++;
    const line = decodeLine(bytes, lineNo);
    if (!columns) {
      if (!opts.separator && !line.includes('\t') && line.includes(',')) sep = ',';
      columns = headerColumns(line.split(sep));
      taskIdAt = columns.findIndex((c) => c.kind === 'task_id');
      if (taskIdAt < 0) throw new TraceParseError('the header has no task_id column (is this a Nextflow trace file?)', 1, 1);
      statusAt = columns.findIndex((c) => c.kind === 'status');
      exitAt = columns.findIndex((c) => c.column === 'exit');
      continue;
    }
    if (line === '') continue;
    const cells = line.split(sep);
    if (cells.length !== columns.length) {
      const col = cells.length < columns.length ? line.length + 1 : line.split(sep, columns.length).join(sep).length + sep.length + 1;
      throw new TraceParseError(`expected ${columns.length} columns, found ${cells.length}`, lineNo, col);
    }
    const values: Record<string, TaskValue> = {};
    const exact: Record<string, boolean> = {};
    const extra: Record<string, unknown> = {};
    let taskId = 0;
    let attempt: number | null = null;
    let status = '';
    let offset = 1;
    for (let i = 0; i < cells.length; i++) {
      const s = cells[i]!;
      const c = columns[i]!;
      if (s === '-' || s === '') {
        if (c.kind === 'task_id') throw new TraceParseError('task_id is missing', lineNo, offset, c.name);
      } else if (c.kind === 'task_id' || c.kind === 'attempt') {
        const v = parseInteger(s);
        if (v === undefined || v < 0) throw new TraceParseError(`'${s}' is not a whole number`, lineNo, offset, c.name);
        if (c.kind === 'task_id') taskId = v;
        else attempt = v;
      } else if (c.kind === 'status') {
        if (!(s in TASK_STATUS_RANK)) throw new TraceParseError(`unknown task status '${s}'`, lineNo, offset, c.name);
        status = s;
      } else if (c.kind === 'extra') {
        extra[c.extraKey] = s;
      } else {
        const cell = parseCell(c.kind, s, tz);
        if (!cell)
          throw new TraceParseError(`'${s.length > 40 ? `${s.slice(0, 40)}…` : s}' is not a valid ${c.kind} value`, lineNo, offset, c.name);
        // Duplicate columns (e.g. `rss` and `rss:num`): the exact (raw) rendering wins over a rounded one.
        if (values[c.column] === undefined || values[c.column] === null || (cell.exact && !exact[c.column])) {
          values[c.column] = cell.value;
          exact[c.column] = cell.exact;
        }
      }
      offset += s.length + sep.length;
    }
    if (statusAt < 0 || status === '') {
      // Rows are written when a task ends; without a status column the exit code tells how.
      const exit = exitAt >= 0 ? values.exit : 0;
      status = exit === 0 || exit === undefined ? 'COMPLETED' : 'FAILED';
    }
    batch.push({ taskId, attempt, status, source: 'trace', values, extra });
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (!columns) throw new TraceParseError('the file is empty', 1, 1);
  if (batch.length) yield batch;
}
