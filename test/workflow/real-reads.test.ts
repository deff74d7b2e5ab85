// Real reads end to end (S4). 10x's pbmc_1k_v2 reads against their GRCh38 chr21 region + chrM (FASTAs and GTFs
// concatenated): REGISTER -> STARsolo -> QC -> integration -> a valid manifest, on data too small for scrublet, with
// one batch and no labels, so those steps are skipped or clamped with their reasons recorded (never a traceback), and
// the API ingests it and serves its provenance (also from the same manifest in its 1.0 form). Then the pbmc5k v3.1
// chr21 reads on the same reference (STAR index from the first run, via -resume), with no v3 whitelist bundled so
// STARsolo runs with --soloCBwhitelist None. For both, every CellRanger-named metric equals STARsolo's own
// Summary.csv and Features.stats of the same run.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { platformFor } from '../api/helpers.js';
import { run } from '../helpers/exec.js';
import { repoRoot, sharedData } from '../helpers/paths.js';
import { nextflow, python, readJson, schemaPath, schemaValidator, sha256 } from './nf.js';

const galaxy = path.join(sharedData, 'galaxy_starsolo_pbmc1k_v2');
const pbmc5k = path.join(sharedData, 'pbmc5k_v3.1_chr21');

// CellRanger metrics_summary.csv name -> STARsolo Summary.csv name (scrnaseq-facts §3, "UI minimum set").
const SUMMARY_NAMES: Record<string, string> = {
  'Estimated Number of Cells': 'Estimated Number of Cells',
  'Number of Reads': 'Number of Reads',
  'Median Genes per Cell': 'Median Gene per Cell',
  'Median UMI Counts per Cell': 'Median UMI per Cell',
  'Valid Barcodes': 'Reads With Valid Barcodes',
  'Sequencing Saturation': 'Sequencing Saturation',
  'Q30 Bases in Barcode': 'Q30 Bases in CB+UMI',
  'Q30 Bases in RNA Read': 'Q30 Bases in RNA read',
  'Reads Mapped to Genome': 'Reads Mapped to Genome: Unique+Multiple',
  'Reads Mapped Confidently to Genome': 'Reads Mapped to Genome: Unique',
  'Reads Mapped Confidently to Transcriptome': 'Reads Mapped to Gene: Unique Gene',
  'Fraction Reads in Cells': 'Fraction of Unique Reads in Cells',
  'Total Genes Detected': 'Total Gene Detected',
};

interface Skip {
  step: string;
  action: string;
  reason: string;
}

/** The count metrics of one sample against STARsolo's own Summary.csv and Features.stats of the same run. */
async function agreesWithStarsolo(t: Test, countDir: string) {
  const metrics = await readJson<Record<string, number>>(path.join(countDir, 'metrics.json'));
  const summary = new Map(
    (await readFile(path.join(countDir, 'Summary.csv'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.lastIndexOf(',')), l.slice(l.lastIndexOf(',') + 1)] as const),
  );
  const stats = new Map(
    (await readFile(path.join(countDir, 'Features.stats'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/) as [string, string])
      .map(([k, v]) => [k, Number(v)] as const),
  );
  for (const [cr, star] of Object.entries(SUMMARY_NAMES)) {
    const v = Number(summary.get(star));
    if (Number.isFinite(v)) t.equal(metrics[cr], v, `${cr} = Summary.csv ${star} (${summary.get(star)})`);
    else t.notOk(cr in metrics, `${cr} left out: STARsolo gives ${summary.get(star)}`);
  }
  const reads = Number(summary.get('Number of Reads'));
  const cells = stats.get('yesCellBarcodes') ?? -1;
  t.equal(metrics['Estimated Number of Cells'], cells, `cells = Features.stats yesCellBarcodes (${cells})`);
  t.ok(cells > 0, 'cells were called');
  const unique = stats.get('yessubWLmatch_UniqueFeature') ?? -1;
  t.ok(
    Math.abs((metrics['Reads Mapped Confidently to Transcriptome'] ?? -1) - unique / reads) < 5e-6,
    `to transcriptome = Features.stats yessubWLmatch_UniqueFeature ${unique} / ${reads} reads`,
  );
  t.equal(metrics['Mean Reads per Cell'], Math.round(reads / cells), 'Mean Reads per Cell = all reads / cells, as CellRanger defines it');
  return { metrics, reads, cells };
}

t.test(
  'real 10x reads: pbmc_1k_v2 to a valid manifest, then pbmc5k v3.1 without a whitelist',
  { skip: !(existsSync(galaxy) && existsSync(pbmc5k)) && `shared data not found (${galaxy}, ${pbmc5k}); see ../shared/data/README.md` },
  async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nf-real-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const ref = path.join(galaxy, 'reference');
    const fasta = path.join(dir, 'genome.fa');
    const gtf = path.join(dir, 'genes.gtf');
    await writeFile(
      fasta,
      Buffer.concat([
        gunzipSync(await readFile(path.join(ref, 'filtered3.Homo_sapiens.GRCh38.dna.chromosome.21.fa.gz'))),
        await readFile(path.join(ref, 'chrM.fa')),
      ]),
    );
    await writeFile(
      gtf,
      Buffer.concat([
        await readFile(path.join(ref, 'filtered3.Homo_sapiens.GRCh38.100.chr21.gtf')),
        await readFile(path.join(ref, 'UCSC_Main_on_Human_knownGene_region_chrM.gtf')),
      ]),
    );
    const sheet1k = path.join(dir, 'pbmc1k.csv');
    const fq = path.join(galaxy, 'fastq');
    await writeFile(
      sheet1k,
      `sample,fastq_1,fastq_2\npbmc1k,${fq}/pbmc_1k_v2_L001.R1.10k.fastq.gz,${fq}/pbmc_1k_v2_L001.R2.10k.fastq.gz\n`,
    );
    const sheet5k = path.join(dir, 'pbmc5k.csv');
    await writeFile(sheet5k, `sample,fastqs\npbmc5k,${path.join(pbmc5k, 'fastq')}\n`);

    const nf1 = await nextflow(['--input', sheet1k, '--fasta', fasta, '--gtf', gtf], 'nf-real-', {
      dir,
      outdir: path.join(dir, 'results-1k'),
    });
    const out1 = nf1.stdout + nf1.stderr;
    t.equal(nf1.code, 0, out1);
    t.notMatch(out1, /Traceback/, 'no step died with a traceback');
    if (nf1.code !== 0) return;

    await t.test('pbmc_1k_v2: count metrics are STARsolo’s own', async (t) => {
      await agreesWithStarsolo(t, path.join(nf1.outdir, 'count/pbmc1k'));
    });

    const manifest = await readJson<{
      schema_version: string;
      workflow: { nextflow_version: string };
      provenance: { nextflow: { version: string }; pipeline: { commit: string | null }; software: Record<string, Record<string, string>> };
      samples: { sample: string; cells_before_qc: number; doublets: { method: string; reason: string }; skipped: Skip[] }[];
      integration: { skipped: Skip[] };
      outputs: { path: string; sha256: string }[];
    }>(path.join(nf1.outdir, 'manifest.json'));

    await t.test('the manifest is valid, with the steps the data cannot support skipped and why', async (t) => {
      const validate = schemaValidator().compile(await readJson(schemaPath('assets/manifest.schema.json')));
      t.ok(validate(manifest), JSON.stringify(validate.errors));
      t.equal(manifest.schema_version, '1.1');
      const sample = manifest.samples[0]!;
      const counted = await readJson<Record<string, number>>(path.join(nf1.outdir, 'count/pbmc1k/metrics.json'));
      t.equal(sample.cells_before_qc, counted['Estimated Number of Cells'], 'QC starts from the cells STARsolo called');
      t.match(sample.doublets, { method: 'none', reason: /scrublet would keep \d+ variable genes, fewer than the 10/ });
      t.ok(
        sample.skipped.some((s) => s.step === 'doublets' && s.action === 'skipped' && s.reason === sample.doublets.reason),
        'doublets listed among the sample’s skipped steps, with the reason',
      );
      const by = (step: string, action: string) => manifest.integration.skipped.find((s) => s.step === step && s.action === action);
      t.match(by('integration', 'skipped')?.reason, /^one batch \(pbmc1k\)/, 'Harmony skipped: one batch');
      t.ok(
        manifest.integration.skipped.some((s) => s.step === 'metrics' && /^iLISI: one batch/.test(s.reason)),
        'iLISI skipped: one batch',
      );
      t.ok(
        manifest.integration.skipped.some((s) => s.step === 'metrics' && /ARI\/NMI: no cell labels/.test(s.reason)),
        'ARI/NMI skipped: no labels',
      );
      // n_pcs and n_hvg are in integration.json (the manifest keeps its summary fields)
      const used = await readJson<{ n_pcs: number; n_hvg: number }>(path.join(nf1.outdir, 'integration/integration.json'));
      t.match(by('pca', 'clamped')?.reason, new RegExp(`^n_pcs 30 -> ${used.n_pcs}: ${used.n_hvg} highly`));
      t.ok(used.n_pcs < used.n_hvg, 'fewer PCs than variable genes');
    });

    await t.test('provenance: tool versions, Nextflow, git revision, collected software_versions.yml', async (t) => {
      const p = manifest.provenance;
      const star = (await run('STAR', ['--version'])).stdout.trim();
      const venv = await python<Record<string, string>>(
        'import importlib.metadata as m, json; print(json.dumps({d: m.version(d) for d in ["scanpy", "anndata", "harmonypy", "leidenalg", "umap-learn"]}))',
      );
      t.equal(p.software.STARSOLO?.star, star, `STARSOLO ran STAR ${star}`);
      t.equal(p.software.STAR_GENOMEGENERATE?.star, star);
      for (const [dist, v] of Object.entries(venv)) t.equal(p.software.SCANPY_INTEGRATE?.[dist], v, `SCANPY_INTEGRATE ${dist} ${v}`);
      t.equal(p.software.SCANPY_QC?.scanpy, venv.scanpy);
      t.same(Object.keys(p.software).sort(), [
        'REGISTER_FASTQS',
        'SCANPY_INTEGRATE',
        'SCANPY_QC',
        'STARSOLO',
        'STAR_GENOMEGENERATE',
        'Workflow',
      ]);
      t.equal(p.nextflow.version, manifest.workflow.nextflow_version);
      t.equal(p.software.Workflow?.Nextflow, p.nextflow.version);
      const head = await run('git', ['-C', repoRoot, 'rev-parse', 'HEAD']);
      if (head.code === 0) t.equal(p.pipeline.commit, head.stdout.trim(), 'the checkout’s commit');
      const listed = manifest.outputs.find((o) => o.path === 'pipeline_info/software_versions.yml');
      t.ok(listed, 'software_versions.yml is a listed output');
      t.equal(listed?.sha256, await sha256(path.join(nf1.outdir, 'pipeline_info/software_versions.yml')));
      t.notOk(
        manifest.outputs.some((o) => o.path.endsWith('versions.yml') && !o.path.startsWith('pipeline_info/')),
        'per-task versions.yml are collected, not published',
      );
    });

    await t.test('the API ingests it (and its 1.0 form) and serves provenance and skipped steps', async (t) => {
      const p = await platformFor(t, { workflowsDir: path.join(repoRoot, 'workflows') });
      const ingest = async (outdir: string) => {
        const r = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'real', status: 'COMPLETED', source: 'platform', outdir });
        const res = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${r.id}/results` });
        return { id: r.id, res };
      };
      const current = await ingest(nf1.outdir);
      t.equal(current.res.statusCode, 200, current.res.body);
      const prov = (await p.app.inject({ url: `/api/v1/runs/${current.id}/provenance` })).json();
      t.same(prov.software, manifest.provenance.software);
      t.equal(prov.schemaVersion, '1.1');
      t.equal(prov.pipeline.commit, manifest.provenance.pipeline.commit);
      t.match(prov.skipped, [
        ...manifest.samples[0]!.skipped.map((s) => ({ ...s, sample: 'pbmc1k' })),
        ...manifest.integration.skipped.map((s) => ({ ...s, sample: null })),
      ]);
      t.equal(prov.skipped.length, manifest.samples[0]!.skipped.length + manifest.integration.skipped.length);

      // The same results as the 1.0 workflow wrote them: no provenance, no skipped lists.
      const old = path.join(dir, 'results-1k-v1.0');
      await cp(nf1.outdir, old, { recursive: true });
      const { provenance: _, ...rest } = manifest;
      const v10 = {
        ...rest,
        schema_version: '1.0',
        samples: manifest.samples.map(({ skipped: _s, ...s }) => s),
        integration: { ...manifest.integration, skipped: undefined },
      };
      await writeFile(path.join(old, 'manifest.json'), JSON.stringify(v10));
      const legacy = await ingest(old);
      t.equal(legacy.res.statusCode, 200, legacy.res.body);
      const lp = (await p.app.inject({ url: `/api/v1/runs/${legacy.id}/provenance` })).json();
      t.match(lp, { schemaVersion: '1.0', software: {}, containers: {}, nextflowVersion: manifest.workflow.nextflow_version });
      t.same(lp.skipped, [{ sample: 'pbmc1k', step: 'doublets', action: 'skipped', reason: manifest.samples[0]!.doublets.reason }]);

      // A 1.1 manifest must carry its provenance.
      await writeFile(path.join(old, 'manifest.json'), JSON.stringify({ ...v10, schema_version: '1.1' }));
      const missing = await ingest(old);
      t.equal(missing.res.statusCode, 422, missing.res.body);
    });

    const nf2 = await nextflow(['-resume', '--input', sheet5k, '--fasta', fasta, '--gtf', gtf, '--stop_after', 'count'], 'nf-real-', {
      dir,
      outdir: path.join(dir, 'results-5k'),
    });
    const out2 = nf2.stdout + nf2.stderr;
    t.equal(nf2.code, 0, out2);
    const trace = (await readFile(path.join(nf2.outdir, 'pipeline_info/trace.txt'), 'utf8')).trim().split('\n');
    const cols = trace[0]!.split('\t');
    const index = trace
      .slice(1)
      .map((l) => l.split('\t'))
      .find((r) => r[cols.indexOf('process')] === 'COUNT:STAR_GENOMEGENERATE');
    t.equal(index?.[cols.indexOf('status')], 'CACHED', 'the STAR index of the first run is reused');
    t.match(out2, /STARsolo will run with --soloCBwhitelist None/);
    if (nf2.code !== 0) return;
    await t.test('pbmc5k v3.1 with --soloCBwhitelist None: count metrics are STARsolo’s own', async (t) => {
      const reg = await readJson<{ chemistry: string; read_pairs: number; lanes: number }>(
        path.join(nf2.outdir, 'registration/pbmc5k.registration.json'),
      );
      t.match(reg, { chemistry: '10xv3', lanes: 2 });
      const { reads } = await agreesWithStarsolo(t, path.join(nf2.outdir, 'count/pbmc5k'));
      t.equal(reads, reg.read_pairs, 'STARsolo read every registered read pair');
    });
  },
);
