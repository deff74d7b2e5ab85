// Samplesheet CSV read with csv-parse (RFC 4180: quotes, doubled quotes, CRLF; the reader the UI and the upload
// Lambda use too); errors carry line and column.
import { CsvError as ParseError, parse } from 'csv-parse/sync';

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
  }
}

export interface CsvRow {
  /** Line the row starts on (a quoted cell may span lines). */
  line: number;
  cells: string[];
}

const breaks = (s: string) => s.match(/\r\n|\n|\r/g)?.length ?? 0;

export function parseCsv(text: string): CsvRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // csv-parse's types do not model `info: true` (each record comes with its position).
    records = parse(text, {
      bom: true,
      info: true,
      // Unquoted cells are trimmed; quoted ones are kept as written.
      trim: true,
      // Hand-edited sheets mix line endings; csv-parse otherwise keeps to the first one it meets.
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (e) {
    if (e instanceof ParseError) {
      const { lines, column } = e as ParseError & { lines?: number; column?: number };
      throw new CsvError(e.message.replace(/^[^:]*: /, '').replace(/ at line \d+/, ''), lines ?? 1, (column ?? 0) + 1);
    }
    throw e;
  }
  // Cells are kept as written, control characters included: the samplesheet schema's column patterns refuse them
  // with the row and column named, which says more than one error for the whole file.
  return records.map(({ record, info }) => ({ line: info.lines - record.reduce((n, c) => n + breaks(c), 0), cells: record }));
}
