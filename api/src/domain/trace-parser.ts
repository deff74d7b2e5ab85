// Streaming parser for Nextflow trace files (TraceFileObserver): any field order and subset, normal and raw mode,
// `name:type[:pattern]` header cells, duplicate header names (keyed by position), `-` for missing, unknown columns kept.
import { FIELD_BY_TRACE, type FieldKind, TASK_FIELDS, TASK_STATUS_RANK, type TaskObservation, type TaskValue } from './task-fields.js';
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

/** Splits a byte stream into blocks of whole lines, decoded and checked a block at a time (without a trailing newline or CRs). */
async function* lineBlocks(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<{ text: string; first: number }> {
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
    const raw = decodeBlock(buf, lineNo);
    const text = raw.includes('\r') ? raw.replace(/\r(?=\n|$)/g, '') : raw;
    checkText(text, lineNo);
    const first = lineNo;
    lineNo = n + 1;
    return { text, first };
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

/**
 * A batch of trace rows, column-wise: no object per row, so a million-row import is not bound by allocation and GC.
 * `values[k]` belongs to TASK_FIELDS[k] (null when the file has no such column); within it, undefined means the cell
 * was `-` or empty and null an explicit "no value" (e.g. exit 2147483647, date 0).
 */
export interface TaskRows {
  length: number;
  taskId: number[];
  attempt: (number | null)[];
  status: string[];
  values: ((TaskValue | undefined)[] | null)[];
  /** Unknown columns per row (null for a row without any), or null when the file has no unknown columns. */
  extra: (Record<string, unknown> | null)[] | null;
}

const FIELD_INDEX = new Map(TASK_FIELDS.map((f, k) => [f.column, k]));
const [NAME, PROCESS, TAG] = ['name', 'process', 'tag'].map((c) => FIELD_INDEX.get(c)!) as [number, number, number];
/** A task name as Nextflow writes it: the (qualified) process name, then the tag in parentheses when it has one. */
const NAME_PARTS = /^(.*?)(?: \((.*)\))?$/s;

/** Observations of a batch of rows (the form events take; tests and the merge path use it). */
export function observationsOf(rows: TaskRows): TaskObservation[] {
  const out: TaskObservation[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const values: Record<string, TaskValue> = {};
    for (let k = 0; k < TASK_FIELDS.length; k++) {
      const v = rows.values[k]?.[r];
      if (v !== undefined) values[TASK_FIELDS[k]!.column] = v;
    }
    out[r] = {
      taskId: rows.taskId[r]!,
      attempt: rows.attempt[r]!,
      status: rows.status[r]!,
      source: 'trace',
      values,
      extra: rows.extra?.[r] ?? {},
    };
  }
  return out;
}

/** Rows of trace observations (source 'trace'), for callers that build observations themselves. */
export function rowsOf(obs: TaskObservation[]): TaskRows {
  const values: (TaskValue | undefined)[][] = TASK_FIELDS.map((f) => obs.map((o) => o.values[f.column]));
  return {
    length: obs.length,
    taskId: obs.map((o) => o.taskId),
    attempt: obs.map((o) => o.attempt),
    status: obs.map((o) => o.status),
    values,
    extra: obs.map((o) => (Object.keys(o.extra).length ? o.extra : null)),
  };
}

/**
 * `-?digits(.digits)?` between from and to as a number, or NaN for anything else (units, exponents, long numbers),
 * which the callers hand to the full parsers. At most 15 digits, so mantissa / 10^k is exact and rounds like Number().
 */
function plainNumber(t: string, from: number, to: number, fraction = true): number {
  let i = from;
  const neg = t.charCodeAt(i) === 45;
  if (neg) i++;
  if (i >= to || to - i > 16) return Number.NaN;
  let m = 0;
  let scale = 0;
  let dot = -1;
  for (; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      if (dot >= 0) scale++;
    } else if (c === 46 && dot < 0 && fraction) dot = i;
    else return Number.NaN;
  }
  if (dot >= 0 && (scale === 0 || dot === from + (neg ? 1 : 0))) return Number.NaN;
  if (dot < 0 && to - from - (neg ? 1 : 0) > 15) return Number.NaN;
  const v = scale ? m / 10 ** scale : m;
  return neg ? -v : v;
}

/** The value of a cell of a known kind, with a fast path for plain numbers; undefined when invalid. */
function cellValue(kind: FieldKind, t: string, from: number, to: number, parse: Parse): TaskValue | undefined {
  if (kind === 'str') return t.slice(from, to);
  const integral = kind === 'int' || kind === 'date';
  const n = plainNumber(t, from, to, !integral);
  if (!Number.isNaN(n)) {
    switch (kind) {
      case 'int':
        if (Math.abs(n) <= 2147483647) return n === EXIT_UNKNOWN ? null : n;
        break;
      case 'num':
      case 'time':
      case 'mem':
        return Math.round(n);
      case 'perc':
        return n;
      case 'date':
        return n === 0 ? null : n;
    }
  }
  return parse(t.slice(from, to));
}

const STATUS_NAMES = Object.keys(TASK_STATUS_RANK);

/** Yields batches of task rows, column-wise; throws TraceParseError at the first malformed line. */
export async function* scanTrace(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  opts: TraceParseOptions = {},
): AsyncGenerator<TaskRows> {
  const tz = opts.timeZone ?? 'UTC';
  const maxLineBytes = opts.maxLineBytes ?? 1 << 20;
  const batchSize = opts.batchSize ?? 1000;
  const F = TASK_FIELDS.length;
  let columns: Column[] | null = null;
  let sep = opts.separator ?? '\t';
  let taskIdAt = -1;
  let statusAt = -1;
  let exitField = -1;
  let parsers: (Parse | null)[] = [];
  let fieldOf: number[] = [];
  let duplicated: boolean[] = [];
  let present: number[] = [];
  let hasExtra = false;
  let splitName = false;
  const cur: (TaskValue | undefined)[] = new Array(F).fill(undefined);
  const exact: boolean[] = new Array(F).fill(false);
  const starts: number[] = [];
  let batch: TaskRows | null = null;
  const fresh = (): TaskRows => ({
    length: 0,
    taskId: [],
    attempt: [],
    status: [],
    values: TASK_FIELDS.map((_, k) => (present.includes(k) ? [] : null)),
    extra: hasExtra ? [] : null,
  });
  for await (const block of lineBlocks(source, maxLineBytes)) {
    const text = block.text;
    let p = 0;
    for (let lineNo = block.first; p <= text.length; lineNo++) {
      let end = text.indexOf('\n', p);
      if (end < 0) end = text.length;
      const from = p;
      p = end + 1;
      if (!columns) {
        const line = text.slice(from, end);
        if (!opts.separator && !line.includes('\t') && line.includes(',')) sep = ',';
        columns = headerColumns(line.split(sep));
        taskIdAt = columns.findIndex((c) => c.kind === 'task_id');
        if (taskIdAt < 0) throw new TraceParseError('the header has no task_id column (is this a Nextflow trace file?)', 1, 1);
        statusAt = columns.findIndex((c) => c.kind === 'status');
        exitField = columns.some((c) => c.column === 'exit') ? FIELD_INDEX.get('exit')! : -1;
        const cols = columns;
        parsers = cols.map((c) => (FIELD_BY_TRACE.has(c.name) ? parserFor(c.kind as FieldKind, tz) : null));
        fieldOf = cols.map((c, i) => (parsers[i] ? FIELD_INDEX.get(c.column)! : -1));
        duplicated = cols.map((c) => cols.filter((o) => o.column === c.column).length > 1);
        present = [...new Set(fieldOf.filter((k) => k >= 0))];
        // Nextflow's default trace has `name` (`A:B:PROC (tag)`) but no `process` or `tag`: split them out of it.
        splitName = present.includes(NAME) && !present.includes(PROCESS);
        if (splitName) present.push(PROCESS, ...(present.includes(TAG) ? [] : [TAG]));
        hasExtra = cols.some((c) => c.kind === 'extra');
        batch = fresh();
        continue;
      }
      if (end === from) continue;
      const cols = columns;
      const ncol = cols.length;
      // Cell boundaries first, so a short or long row is refused before any value is read.
      let at = from;
      starts.length = 0;
      for (let i = 0; i < ncol; i++) {
        starts.push(at);
        const e = text.indexOf(sep, at);
        if (i === ncol - 1) {
          if (e >= 0 && e < end) {
            let found = ncol;
            for (let q = e; q >= 0 && q < end; q = text.indexOf(sep, q + sep.length)) found++;
            throw new TraceParseError(`expected ${ncol} columns, found ${found}`, lineNo, e - from + sep.length + 1);
          }
        } else if (e < 0 || e >= end) throw new TraceParseError(`expected ${ncol} columns, found ${i + 1}`, lineNo, end - from + 1);
        else at = e + sep.length;
      }
      starts.push(end + sep.length);
      const b = batch!;
      for (const k of present) {
        cur[k] = undefined;
        exact[k] = false;
      }
      let extra: Record<string, unknown> | null = null;
      let taskId = 0;
      let attempt: number | null = null;
      let status = '';
      for (let i = 0; i < ncol; i++) {
        const s = starts[i]!;
        const e = starts[i + 1]! - sep.length;
        if (e === s || (e === s + 1 && text.charCodeAt(s) === 45)) {
          if (i === taskIdAt) throw new TraceParseError('task_id is missing', lineNo, s - from + 1, 'task_id');
          continue;
        }
        const parse = parsers[i];
        const c = cols[i]!;
        if (parse) {
          const v = cellValue(c.kind as FieldKind, text, s, e, parse);
          if (v === undefined) {
            const cell = text.slice(s, e);
            throw new TraceParseError(
              `'${cell.length > 40 ? `${cell.slice(0, 40)}…` : cell}' is not a valid ${c.kind} value`,
              lineNo,
              s - from + 1,
              c.name,
            );
          }
          const k = fieldOf[i]!;
          if (!duplicated[i]) cur[k] = v;
          else {
            // Duplicate columns (e.g. `rss` and `rss:num`): the exact (raw) rendering wins over a rounded one.
            const ex = isExact(text.slice(s, e));
            if (cur[k] === undefined || cur[k] === null || (ex && !exact[k])) {
              cur[k] = v;
              exact[k] = ex;
            }
          }
        } else if (c.kind === 'task_id' || c.kind === 'attempt') {
          const n = plainNumber(text, s, e, false);
          const v = n <= 2147483647 ? n : parseInteger(text.slice(s, e));
          if (v === undefined || v < 0)
            throw new TraceParseError(`'${text.slice(s, e)}' is not a whole number`, lineNo, s - from + 1, c.name);
          if (c.kind === 'task_id') taskId = v;
          else attempt = v;
        } else if (c.kind === 'status') {
          status = '';
          for (const name of STATUS_NAMES)
            if (e - s === name.length && text.startsWith(name, s)) {
              status = name;
              break;
            }
          if (!status) throw new TraceParseError(`unknown task status '${text.slice(s, e)}'`, lineNo, s - from + 1, c.name);
        } else {
          extra ??= {};
          extra[c.extraKey] = text.slice(s, e);
        }
      }
      if (statusAt < 0 || status === '') {
        // Rows are written when a task ends; without a status column the exit code tells how.
        const exit = exitField >= 0 ? cur[exitField] : 0;
        status = exit === 0 || exit === undefined ? 'COMPLETED' : 'FAILED';
      }
      if (splitName && typeof cur[NAME] === 'string') {
        const m = NAME_PARTS.exec(cur[NAME] as string)!;
        cur[PROCESS] = m[1];
        if (m[2] !== undefined && cur[TAG] === undefined) cur[TAG] = m[2];
      }
      b.taskId.push(taskId);
      b.attempt.push(attempt);
      b.status.push(status);
      for (const k of present) b.values[k]!.push(cur[k]);
      b.extra?.push(extra);
      if (++b.length >= batchSize) {
        yield b;
        batch = fresh();
      }
    }
  }
  if (!columns) throw new TraceParseError('the file is empty', 1, 1);
  if (batch!.length) yield batch!;
}

/** Yields batches of task observations; throws TraceParseError at the first malformed line. */
export async function* parseTrace(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  opts: TraceParseOptions = {},
): AsyncGenerator<TaskObservation[]> {
  for await (const rows of scanTrace(source, opts)) yield observationsOf(rows);
}
