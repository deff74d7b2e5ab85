// RFC 4180 CSV (quotes, doubled quotes, CRLF) for samplesheets; errors carry line and column.

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
  line: number;
  cells: string[];
}

export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let cells: string[] = [];
  let cell = '';
  let line = 1;
  let col = 1;
  let rowLine = 1;
  let i = 0;
  let quoted = false;
  let wasQuoted = false;
  let quoteAt = [1, 1];
  const endCell = () => {
    cells.push(wasQuoted ? cell : cell.trim());
    cell = '';
    wasQuoted = false;
  };
  const endRow = () => {
    endCell();
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: rowLine, cells });
    cells = [];
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') {
          line++;
          col = 0;
        }
        cell += ch;
      }
    } else if (ch === '"') {
      if (cell.trim() !== '') throw new CsvError('quote inside an unquoted field', line, col);
      quoted = true;
      quoteAt = [line, col];
      wasQuoted = true;
      cell = '';
    } else if (ch === ',') endCell();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      col = 0;
      rowLine = line;
    } else {
      if (wasQuoted) throw new CsvError('text after a closing quote', line, col);
      if (ch.charCodeAt(0) < 0x20 && ch !== '\t') throw new CsvError(`control character 0x${ch.charCodeAt(0).toString(16)}`, line, col);
      cell += ch;
    }
    col++;
  }
  if (quoted) throw new CsvError('unterminated quoted field', quoteAt[0]!, quoteAt[1]!);
  endRow();
  return rows;
}
