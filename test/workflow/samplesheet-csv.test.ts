// The pipeline reads samplesheets as RFC 4180 CSV, like the API: quoted fields keep commas and line breaks, so a
// record spanning lines stays one row and a path holding commas stays one path.
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { sharedData } from '../helpers/paths.js';
import { nextflow, readJson, tempSheet } from './nf.js';

const kb = path.join(sharedData, 'kb_python_10xv2_mouse');

t.test('a quoted path holding commas is one path', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-csv-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fastqs = path.join(dir, 'run,1,lane,dir');
  await mkdir(fastqs);
  for (const read of ['R1', 'R2']) await symlink(path.join(kb, `${read}.fastq`), path.join(fastqs, `kb_S1_L001_${read}_001.fastq`));
  const sheet = await tempSheet(`sample,batch,fastqs\r\nkb,"b,1","${fastqs}"\r\n`);
  t.teardown(sheet.cleanup);
  const r = await nextflow(['--input', sheet.file, '--stop_after', 'register'], 'nf-csv-');
  t.teardown(r.cleanup);
  // The batch is refused by its pattern, naming it whole: the comma did not split the field.
  t.not(r.code, 0);
  t.match(r.stdout + r.stderr, /row 1 \(sample 'kb'\), column batch: 'b,1' does not match/);
  t.notMatch(r.stdout + r.stderr, /cells but the header has/, 'no row has too many cells');

  const ok = await tempSheet(`sample,batch,fastqs\nkb,b1,"${fastqs}"\n`);
  t.teardown(ok.cleanup);
  const r2 = await nextflow(['--input', ok.file, '--stop_after', 'register'], 'nf-csv-');
  t.teardown(r2.cleanup);
  t.equal(r2.code, 0, r2.stdout + r2.stderr);
  const rec = await readJson<{ files: { path: string }[] }>(path.join(r2.outdir, 'registration/kb.registration.json'));
  t.same(
    rec.files.map((f) => path.dirname(f.path)),
    [fastqs, fastqs],
    'the FASTQs were found in the folder whose name holds commas',
  );
});

t.test('a quoted field holding a line break stays in its row', async (t) => {
  const sheet = await tempSheet(
    `sample,batch,fastq_1,fastq_2\nkb,"run\n1",${kb}/R1.fastq,${kb}/R2.fastq\nkb2,"""b2""",${kb}/R1.fastq,${kb}/R2.fastq`,
  );
  t.teardown(sheet.cleanup);
  const r = await nextflow(['--input', sheet.file, '--stop_after', 'register'], 'nf-csv-');
  t.teardown(r.cleanup);
  t.not(r.code, 0);
  const out = r.stdout + r.stderr;
  t.match(out, /row 1 \(sample 'kb'\), column batch: 'run\n1' does not match/, 'the line break is inside row 1');
  t.match(out, /row 2 \(sample 'kb2'\), column batch: '"b2"' does not match/, 'doubled quotes are one quote; the next record is row 2');
  t.notMatch(out, /row 3/, 'there is no third row');
  t.notMatch(out, /executor >/, 'no task was submitted');
});
