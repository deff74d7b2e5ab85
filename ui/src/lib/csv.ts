// Samplesheet CSV: read with csv-parse (RFC 4180: quoted fields, doubled quotes, CRLF or LF), the reader the API
// uses too; written with the same quoting rules.
import { parse } from 'csv-parse/browser/esm/sync';

export function parseCsv(text: string): { header: string[]; rows: Record<string, string>[] } {
  const records: string[][] = parse(text, {
    bom: true,
    trim: true,
    // Pasted or edited sheets mix line endings; csv-parse otherwise keeps to the first one it sees.
    record_delimiter: ['\r\n', '\n', '\r'],
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    relax_column_count: true,
  });
  const header = records.shift() ?? [];
  const rows = records.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
  return { header, rows };
}

function quote(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

export function toCsv(header: string[], rows: Record<string, string>[]): string {
  const lines = [header.map(quote).join(','), ...rows.map((r) => header.map((h) => quote(r[h] ?? '')).join(','))];
  return `${lines.join('\n')}\n`;
}
