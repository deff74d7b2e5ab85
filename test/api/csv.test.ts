// The samplesheet reader: quoted commas and line breaks, the line each row starts on, and precise errors.
import t from 'tap';
import { CsvError, parseCsv } from '../../api/src/domain/csv.js';

t.test('quoted fields, line numbers, trimming', async (t) => {
  const rows = parseCsv('\ufeffsample,fastq_1\r\n"a, b"," x "\n\n"multi\nline",y\nlast , z \n');
  t.same(
    rows.map((r) => [r.line, r.cells]),
    [
      [1, ['sample', 'fastq_1']],
      [2, ['a, b', ' x ']],
      [4, ['multi\nline', 'y']],
      [6, ['last', 'z']],
    ],
    'a quoted line break keeps its row together and the next row knows its line',
  );
});

t.test('control characters stay in their cell, for the column patterns to refuse with row and column', async (t) => {
  t.same(parseCsv('a,b\n1,"x\u0000y"\n')[1]!.cells, ['1', 'x\u0000y']);
});

t.test('errors name the line and column', async (t) => {
  const err = (text: string) => {
    try {
      parseCsv(text);
    } catch (e) {
      return e as CsvError;
    }
    throw new Error('no error');
  };
  const open = err('a,b\n1,"never closed\n');
  t.type(open, CsvError);
  t.equal(open.line, 2);
  t.match(open.message, /opening quote/);
  t.equal(err('a,b\n1,x"y"\n').line, 2, 'a quote inside an unquoted field');
});
