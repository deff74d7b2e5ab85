// CSV of task pages as a byte stream: a page is turned into text only when the response wants more, so an export
// holds one page besides the socket buffer and the event loop is free between pages.
import { Readable } from 'node:stream';
import type { TaskRow } from '../domain/ports.js';

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function* csvText(columns: string[], pages: AsyncIterable<TaskRow[]>): AsyncGenerator<string> {
  yield `${columns.join(',')}\n`;
  for await (const page of pages) {
    let text = '';
    for (const t of page) text += `${columns.map((c) => csvCell(t[c])).join(',')}\n`;
    yield text;
  }
}

/** Not object mode: the byte highWaterMark makes the stream pull the next page only once the last one is consumed. */
export const csvStream = (columns: string[], pages: AsyncIterable<TaskRow[]>): Readable =>
  Readable.from(csvText(columns, pages), { objectMode: false });
