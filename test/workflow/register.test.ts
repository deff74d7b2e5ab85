// REGISTER on real 10x FASTQs (../shared/data): chemistry detection, lane pairing, read counts, checksums.
import path from 'node:path';
import t from 'tap';
import { sharedData } from '../helpers/paths.js';
import { nextflow, readJson, sha256, tempSheet } from './nf.js';

interface Registration {
  chemistry: string;
  chemistry_inferred: string | null;
  lanes: number;
  read_pairs: number;
  r1_length: number;
  r2_length: number;
  index_reads: string[];
  files: { path: string; lane: string; read: string; size: number; sha256: string; reads: number }[];
}

const pbmc5k = path.join(sharedData, 'pbmc5k_v3.1_chr21/fastq');
const kb = path.join(sharedData, 'kb_python_10xv2_mouse');
const galaxy = path.join(sharedData, 'galaxy_starsolo_pbmc1k_v2/fastq');
const sheet = [
  'sample,batch,fastqs,fastq_1,fastq_2,chemistry',
  `pbmc5k,b1,${pbmc5k},,,`,
  `kb,b2,,${kb}/R1.fastq,${kb}/R2.fastq,auto`,
  `galaxy,b3,,${galaxy}/pbmc_1k_v2_L001.R1.10k.fastq.gz,${galaxy}/pbmc_1k_v2_L001.R2.10k.fastq.gz,auto`,
].join('\n');

t.test('registration of real v3.1, kb_python v2 and 28-bp v2 reads', async (t) => {
  const csv = await tempSheet(sheet);
  t.teardown(csv.cleanup);
  const r = await nextflow(['--input', csv.file, '--stop_after', 'register'], 'nf-register-');
  t.teardown(r.cleanup);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const reg = (s: string) => readJson<Registration>(path.join(r.outdir, 'registration', `${s}.registration.json`));

  const v3 = await reg('pbmc5k');
  t.equal(v3.chemistry, '10xv3', 'v3.1 reads: R1 28 bp with random bases 27-28');
  t.equal(v3.lanes, 2);
  t.equal(v3.r1_length, 28);
  t.equal(v3.r2_length, 90);
  t.same(
    v3.files.map((f) => [f.lane, f.read, f.reads]),
    [
      ['001', 'R1', 100000],
      ['001', 'R2', 100000],
      ['002', 'R1', 100000],
      ['002', 'R2', 100000],
    ],
    '100,000 read pairs per lane',
  );
  t.equal(v3.read_pairs, 200000);
  t.equal(v3.index_reads.length, 4, 'I1/I2 listed, not counted');
  const first = v3.files[0];
  t.ok(first);
  if (first) t.equal(first.sha256, await sha256(first.path), 'checksum of the registered file');

  const v2 = await reg('kb');
  t.equal(v2.chemistry, '10xv2', 'kb_python reads: R1 26 bp');
  t.equal(v2.r1_length, 26);
  t.equal(v2.read_pairs, 2500);

  const polyT = await reg('galaxy');
  t.equal(polyT.chemistry, '10xv2', 'pbmc_1k_v2: R1 28 bp whose bases 27-28 are poly-T is v2');
  t.equal(polyT.r1_length, 28);
  t.equal(polyT.read_pairs, 15447);
});

t.test('a stated chemistry the reads contradict is an error naming the row', async (t) => {
  const csv = await tempSheet(`sample,fastq_1,fastq_2,chemistry\nkb,${kb}/R1.fastq,${kb}/R2.fastq,10xv3`);
  t.teardown(csv.cleanup);
  const r = await nextflow(['--input', csv.file, '--stop_after', 'register'], 'nf-register-');
  t.teardown(r.cleanup);
  t.not(r.code, 0);
  t.match(r.stdout + r.stderr, /samplesheet row 1 \(sample 'kb'\), column chemistry: samplesheet says 10xv3 .* R1 is 26 bp/);
});
