// Bad samplesheets and params stop the run at start-up, before any task, naming the row, the column and what
// was expected.
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { sharedData } from '../helpers/paths.js';
import { nextflow, tempSheet } from './nf.js';

const pbmc5k = path.join(sharedData, 'pbmc5k_v3.1_chr21/fastq');
const kb = path.join(sharedData, 'kb_python_10xv2_mouse');

async function fails(t: Test, csv: string, expected: RegExp, extra: string[] = []) {
  const sheet = await tempSheet(csv);
  t.teardown(sheet.cleanup);
  const r = await nextflow(['--input', sheet.file, '--stop_after', 'register', ...extra], 'nf-badsheet-');
  t.teardown(r.cleanup);
  t.not(r.code, 0, 'the run fails');
  t.match(r.stdout + r.stderr, expected);
  t.notMatch(r.stdout, /executor >/, 'no task was submitted');
  t.ok(r.seconds < 60, `failed after ${r.seconds}s`);
}

t.test('a missing file', (t) =>
  fails(
    t,
    `sample,batch,fastq_1,fastq_2\nok,b1,${kb}/R1.fastq,${kb}/R2.fastq\ngone,b2,/nonexistent/x_S1_L001_R1_001.fastq.gz,${kb}/R2.fastq`,
    /row 2 \(sample 'gone'\), column fastq_1: file '\/nonexistent\/x_S1_L001_R1_001\.fastq\.gz' does not exist/,
  ),
);

t.test('a bad chemistry', (t) =>
  fails(
    t,
    `sample,fastqs,chemistry\npbmc,${pbmc5k},10xv9`,
    /row 1 \(sample 'pbmc'\), column chemistry: expected one of auto, 10xv1, 10xv2, 10xv3, got '10xv9'/,
  ),
);

t.test('a duplicate sample', (t) =>
  fails(
    t,
    `sample,fastq_1,fastq_2\nkb,${kb}/R1.fastq,${kb}/R2.fastq\nkb,${kb}/R1.fastq,${kb}/R2.fastq`,
    /row 2, column sample: duplicate sample 'kb' \(already in row 1\)/,
  ),
);

t.test('an unpaired lane', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'nf-unpaired-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const name = (lane: number, read: string) => `pbmc_S1_L00${lane}_${read}_001.fastq.gz`;
  const src = (lane: number, read: string) =>
    path.join(pbmc5k, `Chromium_3p_GEX_Human_PBMC_chr21_100000_S1_L00${lane}_${read}_001.fastq.gz`);
  for (const [lane, read] of [
    [1, 'R1'],
    [1, 'R2'],
    [2, 'R1'],
  ] as const) {
    await symlink(src(lane, read), path.join(dir, name(lane, read)));
  }
  await fails(
    t,
    `sample,fastqs\npbmc,${dir}`,
    /row 1 \(sample 'pbmc'\), column fastqs: unpaired lane L002: has R1, expected both R1 and R2/,
  );
});

t.test('an invalid parameter names the parameter and the allowed values', (t) =>
  fails(t, `sample,fastq_1,fastq_2\nkb,${kb}/R1.fastq,${kb}/R2.fastq`, /--counter: expected one of starsolo, cellranger, got 'kallisto'/, [
    '--counter',
    'kallisto',
  ]),
);
