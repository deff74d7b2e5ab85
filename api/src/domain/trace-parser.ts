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

type Parse = (s: string) => TaskValue | undefined;

function parserFor(kind: FieldKind, tz: string): Parse {
  switch (kind) {
    case 'str':
      return (s) => s;
    case 'int':
      return (s) => {
        const v = parseInteger(s);
        return v === EXIT_UNKNOWN ? null : v;
      };
    case 'num':
      return (s) => {
        const v = parseNumber(s);
        return v === undefined ? undefined : Math.round(v);
      };
    case 'date':
      return (s) => parseDate(s, tz);
    case 'time':
      return parseDuration;
    case 'mem':
      return parseMemory;
    case 'perc':
      return parsePercent;
  }
}

/** A raw rendering (plain number) is exact; `9.8 MB`, `1.1s`, `17.5%` or a formatted date are rounded. */
const isExact = (s: string) => /^-?\d+(\.\d+)?$/.test(s);

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

function checkText(text: string, firstLine: number): void {
  const bad = CONTROL.exec(text);
  if (!bad) return;
  const before = text.slice(0, bad.index);
  const line = firstLine + (before.match(/\n/g)?.length ?? 0);
  const col = bad.index - before.lastIndexOf('\n');
  throw new TraceParseError(`control character 0x${bad[0].charCodeAt(0).toString(16)} (binary data?)`, line, col);
}

function decodeBlock(bytes: Buffer, firstLine: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    // Find the line and column of the first invalid byte sequence.
    let line = firstLine;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(10, start);
      const end = nl < 0 ? bytes.length : nl;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        let ok = start;
        while (ok < end && bytes[ok]! < 0x80) ok++;
        throw new TraceParseError('not UTF-8 text (binary data?)', line, ok - start + 1);
      }
      if (nl < 0) throw new TraceParseError('not UTF-8 text (binary data?)', line, 1);
      start = nl + 1;
      line++;
    }
  }
}

/** Splits a byte stream into blocks of whole lines, decoded and checked a block at a time. */
async function* lineBlocks(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<{ lines: string[]; first: number }> {
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 1;
  const emit = (buf: Buffer) => {
    // Line lengths are checked before decoding so a huge line is refused early.
    let start = 0;
    let n = lineNo;
    for (;;) {
      const nl = buf.indexOf(10, start);
      const end = nl < 0 ? buf.length : nl;
      if (end - start > maxLineBytes) throw new TraceParseError(`line longer than ${maxLineBytes} bytes`, n, maxLineBytes + 1);
      if (nl < 0) break;
      start = nl + 1;
      n++;
    }
    const text = decodeBlock(buf, lineNo);
    checkText(text.includes('\r') ? text.replace(/\r(?=\n|$)/g, '') : text, lineNo);
    const lines = text.split('\n');
    const first = lineNo;
    lineNo += lines.length;
    return { lines: lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), first };
  };
  for await (const chunk of source) {
    const buf = carry.length ? Buffer.concat([carry, Buffer.from(chunk)]) : Buffer.from(chunk);
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      carry = buf;
      if (carry.length > maxLineBytes) throw new TraceParseError(`line longer than ${maxLineBytes} bytes`, lineNo, maxLineBytes + 1);
      continue;
    }
    yield emit(buf.subarray(0, last));
    carry = buf.subarray(last + 1);
    if (carry.length > maxLineBytes) throw new TraceParseError(`line longer than ${maxLineBytes} bytes`, lineNo, maxLineBytes + 1);
  }
  if (carry.length) yield emit(carry);
}

/** 1-based column where cell i starts. */
function offsetOf(cells: string[], i: number, sep: string): number {
  let o = 1;
  for (let k = 0; k < i; k++) o += cells[k]!.length + sep.length;
  return o;
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
  let batch: TaskObservation[] = [];
  let taskIdAt = -1;
  let statusAt = -1;
  let exitAt = -1;
  let parsers: (Parse | null)[] = [];
  let duplicated: boolean[] = [];
  for await (const block of lineBlocks(source, maxLineBytes)) {
    for (let li = 0; li < block.lines.length; li++) {
      const line = block.lines[li]!;
      const lineNo = block.first + li;
      if (!columns) {
        if (!opts.separator && !line.includes('\t') && line.includes(',')) sep = ',';
        columns = headerColumns(line.split(sep));
        taskIdAt = columns.findIndex((c) => c.kind === 'task_id');
        if (taskIdAt < 0) throw new TraceParseError('the header has no task_id column (is this a Nextflow trace file?)', 1, 1);
        statusAt = columns.findIndex((c) => c.kind === 'status');
        exitAt = columns.findIndex((c) => c.column === 'exit');
        const cols = columns;
        parsers = cols.map((c) => (FIELD_BY_TRACE.has(c.name) ? parserFor(c.kind as FieldKind, tz) : null));
        duplicated = cols.map((c) => cols.filter((o) => o.column === c.column).length > 1);
        continue;
      }
      if (line === '') continue;
      const cells = line.split(sep);
      if (cells.length !== columns.length) {
        const col = cells.length < columns.length ? line.length + 1 : line.split(sep, columns.length).join(sep).length + sep.length + 1;
        throw new TraceParseError(`expected ${columns.length} columns, found ${cells.length}`, lineNo, col);
      }
      const values: Record<string, TaskValue> = {};
      let exact: Record<string, boolean> | null = null;
      let extra: Record<string, unknown> | null = null;
      let taskId = 0;
      let attempt: number | null = null;
      let status = '';
      for (let i = 0; i < cells.length; i++) {
        const s = cells[i]!;
        if (s === '-' || s === '') {
          if (i === taskIdAt) throw new TraceParseError('task_id is missing', lineNo, offsetOf(cells, i, sep), 'task_id');
          continue;
        }
        const parse = parsers[i];
        const c = columns[i]!;
        if (parse) {
          const v = parse(s);
          if (v === undefined)
            throw new TraceParseError(
              `'${s.length > 40 ? `${s.slice(0, 40)}…` : s}' is not a valid ${c.kind} value`,
              lineNo,
              offsetOf(cells, i, sep),
              c.name,
            );
          if (!duplicated[i]) values[c.column] = v;
          else {
            // Duplicate columns (e.g. `rss` and `rss:num`): the exact (raw) rendering wins over a rounded one.
            exact ??= {};
            const ex = isExact(s);
            if (values[c.column] === undefined || values[c.column] === null || (ex && !exact[c.column])) {
              values[c.column] = v;
              exact[c.column] = ex;
            }
          }
        } else if (c.kind === 'task_id' || c.kind === 'attempt') {
          const v = parseInteger(s);
          if (v === undefined || v < 0) throw new TraceParseError(`'${s}' is not a whole number`, lineNo, offsetOf(cells, i, sep), c.name);
          if (c.kind === 'task_id') taskId = v;
          else attempt = v;
        } else if (c.kind === 'status') {
          if (!(s in TASK_STATUS_RANK)) throw new TraceParseError(`unknown task status '${s}'`, lineNo, offsetOf(cells, i, sep), c.name);
          status = s;
        } else {
          extra ??= {};
          extra[c.extraKey] = s;
        }
      }
      if (statusAt < 0 || status === '') {
        // Rows are written when a task ends; without a status column the exit code tells how.
        const exit = exitAt >= 0 ? values.exit : 0;
        status = exit === 0 || exit === undefined ? 'COMPLETED' : 'FAILED';
      }
      batch.push({ taskId, attempt, status, source: 'trace', values, extra: extra ?? {} });
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (!columns) throw new TraceParseError('the file is empty', 1, 1);
  if (batch.length) yield batch;
}
