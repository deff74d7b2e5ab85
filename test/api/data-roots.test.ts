// Data roots: samplesheet and path-param values must resolve (after symlinks) inside the configured roots, s3://
// URIs under allowed buckets; anything else is a 400 naming the field (row, line, column for samplesheets) and no
// run is created. Task and run logs are served only from the run's own launch/work directory.
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import t from 'tap';
import { dataRootsOf, loadConfig } from '../../api/src/config.js';
import { hashToken } from '../../api/src/domain/auth.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const workflowsDir = path.join(repoRoot, 'workflows');
const R1 = 's1_S1_L001_R1_001.fastq.gz';
const R2 = 's1_S1_L001_R2_001.fastq.gz';

async function tempDir(t: Test, prefix: string): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), prefix));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A data root with real FASTQs and links out of it, and a readable place outside every root. */
async function layout(t: Test) {
  const root = await tempDir(t, 'scrna-root-');
  const outside = await tempDir(t, 'scrna-outside-');
  await mkdir(path.join(root, 'fq'));
  for (const f of [R1, R2]) await writeFile(path.join(root, 'fq', f), '@r\nACGT\n+\nIIII\n');
  await writeFile(path.join(outside, 'secret_R1.fastq.gz'), 'not yours\n');
  await symlink(outside, path.join(root, 'escape'));
  await symlink(path.join(outside, 'secret_R1.fastq.gz'), path.join(root, 'link_R1.fastq.gz'));
  await symlink(path.join(outside, 'nothere_R1.fastq.gz'), path.join(root, 'dangling_R1.fastq.gz'));
  return { root, outside };
}

const runCount = async (p: Awaited<ReturnType<typeof platformFor>>) =>
  (await p.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n as number;

t.test('SCRNA_DATA_ROOTS and SCRNA_S3_BUCKETS', async (t) => {
  const c = loadConfig({ SCRNA_DATA_DIR: '/srv/scrna', SCRNA_WORKFLOWS_DIR: '/opt/pipe/workflows' });
  t.same(dataRootsOf(c), ['/srv/scrna', '/opt/pipe/workflows/assets'], 'default: the data dir and the bundled assets');
  t.same(c.s3Buckets, [], 'no bucket by default');
  const set = loadConfig({
    SCRNA_DATA_ROOTS: `/data/a${path.delimiter}${path.delimiter}/data/b/`,
    SCRNA_S3_BUCKETS: 'lab-raw, s3://shared/projects/p1',
  });
  t.same(dataRootsOf(set), ['/data/a', '/data/b']);
  t.same(set.s3Buckets, ['lab-raw', 's3://shared/projects/p1']);
  t.throws(() => loadConfig({ SCRNA_S3_BUCKETS: 'https://example.invalid/x' }), /SCRNA_S3_BUCKETS/);
});

t.test('samplesheet paths outside the data roots are refused with row, line and column; no run is created', async (t) => {
  const { root, outside } = await layout(t);
  const p = await platformFor(t, { workflowsDir, dataRoots: [root], s3Buckets: ['allowed-bucket', 's3://shared/projects/p1'] });
  const good1 = path.join(root, 'fq', R1);
  const good2 = path.join(root, 'fq', R2);
  const sheet = (r2: string) => `sample,fastq_1,fastq_2\ns0,${good1},${good2}\ns1,${good1},${r2}\n`;
  const validate = async (payload: object) => {
    const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload });
    t.equal(r.statusCode, 200, r.body);
    return r.json() as { valid: boolean; errors: Record<string, unknown>[] };
  };

  t.same((await validate({ samplesheet: sheet(good2) })).errors, [], 'paths inside the root validate');
  t.same(
    (await validate({ samplesheet: sheet(path.join(root, 'later', 'x_R2.fastq.gz')) })).errors,
    [],
    'a path that does not exist yet is checked on its nearest existing ancestor',
  );
  for (const ok of ['s3://allowed-bucket/any/where_R2.fq.gz', 's3://shared/projects/p1/a_R2.fq', 's3://shared/projects/p1/sub/a_R2.fq'])
    t.same((await validate({ samplesheet: sheet(ok) })).errors, [], ok);

  const refused: [string, RegExp][] = [
    ['/root/.ssh/id_rsa.fq', /must be inside a data root/],
    [path.join(outside, 'secret_R1.fastq.gz'), /must be inside a data root/],
    [`${root}/../${path.basename(outside)}/secret_R1.fastq.gz`, /must not contain '\.\.'/],
    ['../../etc/shadow.fq', /must not contain '\.\.'/],
    ['etc/shadow.fq', /must be an absolute path/],
    [path.join(root, 'escape', 'secret_R1.fastq.gz'), /must be inside a data root/],
    [path.join(root, 'escape', 'new_R2.fastq.gz'), /must be inside a data root/],
    [path.join(root, 'link_R1.fastq.gz'), /must be inside a data root/],
    [path.join(root, 'dangling_R1.fastq.gz'), /must be inside a data root/],
    ['file:///etc/passwd.fq', /file: URIs are not accepted/],
    ['http://127.0.0.1/a.fq', /http: URIs are not accepted/],
    ['s3://other-bucket/a.fq', /must be under an allowed bucket/],
    ['s3://shared/projects/p10/a.fq', /must be under an allowed bucket/],
    ['s3://shared/projects/p1/../p2/a.fq', /must not contain '\.\.'/],
  ];
  for (const [value, message] of refused) {
    const v = await validate({ samplesheet: sheet(value) });
    t.equal(v.valid, false, value);
    t.match(v.errors, [{ field: 'samplesheet', row: 2, line: 3, column: 'fastq_2', message }], value);
    t.equal(v.errors.length, 1, `only the roots error for ${value}: ${JSON.stringify(v.errors)}`);
    const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: sheet(value) } });
    t.equal(r.statusCode, 400, value);
    t.match(r.json(), { field: 'samplesheet', row: 2, line: 3, column: 'fastq_2', message });
  }
  const secret = (await validate({ samplesheet: sheet(path.join(outside, 'secret_R1.fastq.gz')) })).errors[0]!.message;
  const missing = (await validate({ samplesheet: sheet(path.join(outside, 'nothere_R1.fastq.gz')) })).errors[0]!.message;
  t.equal(secret, missing, 'the refusal does not tell whether the file exists');
  // A quoted line break is named at its cell.
  const broken = await validate({ samplesheet: sheet(`"${good2}\ns2,/etc/a.fq,/etc/b.fq"`) });
  t.match(broken.errors, [{ field: 'samplesheet', row: 2, line: 3, column: 'fastq_2', message: 'line break inside a cell' }]);

  const fastqs = await validate({ samplesheet: `sample,fastqs\ns1,"${root}/fq/*_R[12]_001.fastq.gz"\ns2,/root\n` });
  t.match(
    fastqs.errors,
    [{ field: 'samplesheet', row: 2, line: 3, column: 'fastqs' }],
    'fastqs (format path) is checked, globs at their base',
  );
  t.equal(fastqs.errors.length, 1);
  const matrix = await validate({ params: { input_type: 'matrix' }, samplesheet: `sample,matrix,raw_matrix\nm1,${root}/fq,/etc\n` });
  t.match(
    matrix.errors,
    [{ field: 'samplesheet', row: 1, line: 2, column: 'raw_matrix' }],
    'matrix columns come from schema_input_matrix.json',
  );
  t.equal(matrix.errors.length, 1);

  t.equal(await runCount(p), 0, 'no run row for a refused request');
  // The event spool is the API's own, opened at start; nothing else may appear.
  t.same(
    (await readdir(p.dataDir)).filter((f) => f !== 'event-spool'),
    [],
    'nothing written to the data directory',
  );
});

t.test('path params (by schema format) outside the data roots are refused', async (t) => {
  const { root } = await layout(t);
  const p = await platformFor(t, { workflowsDir, dataRoots: [root] });
  const validate = async (params: Record<string, unknown>) =>
    (await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload: { profiles: ['test'], params } })).json() as {
      errors: Record<string, unknown>[];
    };
  t.same((await validate({ whitelist_dir: root, star_index: `${root}/index`, fasta: `${root}/g.fa` })).errors, [], 'inside the root');
  for (const [name, value] of [
    ['whitelist_dir', '/root'],
    ['star_index', '/'],
    ['fasta', `${root}/escape/genome.fa`],
    ['gtf', '/data/root/../../etc/genes.gtf'],
    ['barcode_whitelist', 'whitelist.txt'],
    ['cellranger_index', 'ftp://127.0.0.1/ref'],
    ['cell_labels', `${root}/link_R1.fastq.gz/../labels.csv`],
  ]) {
    const v = await validate({ [name!]: value });
    t.match(v.errors, [{ field: `params.${name}` }], `${name}=${value}`);
    t.equal(v.errors.length, 1, JSON.stringify(v.errors));
    const r = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'], params: { [name!]: value } } });
    t.equal(r.statusCode, 400);
    t.equal(r.json().field, `params.${name}`);
  }
  t.equal(await runCount(p), 0, 'no run row for a refused request');
});

t.test('default roots: the data directory and the bundled assets; a request inside them launches', async (t) => {
  const { outside } = await layout(t);
  // `true` stands in for Nextflow: this test is about what the API accepts; launcher.test.ts runs the real thing.
  const p = await platformFor(t, { workflowsDir, nextflowBin: '/bin/true' });
  const fq = path.join(p.dataDir, 'uploads');
  await mkdir(fq);
  const sheet = `sample,fastq_1,fastq_2\ns1,${fq}/${R1},${fq}/${R2}\n`;
  const params = { whitelist_dir: path.join(workflowsDir, 'assets/whitelist') };
  const ok = await p.app.inject({ method: 'POST', url: '/api/v1/runs/validate', payload: { samplesheet: sheet, params } });
  t.same(ok.json().errors, []);
  const refused = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/validate',
    payload: { params: { whitelist_dir: outside }, profiles: ['test'] },
  });
  t.match(refused.json().errors, [{ field: 'params.whitelist_dir' }]);
  // The embedded database lives in <data>/pg: never an input, though it is under a root.
  await mkdir(path.join(p.dataDir, 'pg'));
  const pg = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/validate',
    payload: { samplesheet: sheet.replace(fq, path.join(p.dataDir, 'pg')) },
  });
  t.match(pg.json().errors, [{ row: 1, column: 'fastq_1', message: /must be inside a data root/ }]);
  const s3 = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/validate',
    payload: { samplesheet: sheet.replace(`${fq}/${R1}`, 's3://b/x_R1.fq') },
  });
  t.match(s3.json().errors, [{ column: 'fastq_1', message: /no buckets are allowed/ }], 'no s3 bucket unless configured');

  const created = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { samplesheet: sheet, params } });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  for (let i = 0; i < 100 && (await p.repos.runs.get(id))?.status !== 'COMPLETED'; i++) await sleep(100);
  t.equal((await p.repos.runs.get(id))?.status, 'COMPLETED', 'launched (and ended) before the test closes the platform');
});

t.test('task and run logs come only from the run’s own launch and work directory', async (t) => {
  const p = await platformFor(t);
  const outside = await tempDir(t, 'scrna-outside-');
  await writeFile(path.join(outside, '.command.out'), 'server secret\n');
  await writeFile(path.join(outside, '.command.err'), 'server secret\n');
  await writeFile(path.join(outside, '.nextflow.log'), 'someone else’s log\n');

  const id = crypto.randomUUID();
  const runToken = 'per-run-token';
  const launchDir = path.join(p.dataDir, 'runs', id);
  const task = (rel: string) => path.join(launchDir, 'work', rel);
  await mkdir(task('ab/cdef'), { recursive: true });
  await writeFile(path.join(task('ab/cdef'), '.command.out'), 'inside\n');
  await mkdir(task('cd'), { recursive: true });
  await symlink(outside, task('cd/link'));
  await mkdir(task('ef/gh'), { recursive: true });
  await writeFile(path.join(task('ef/gh'), '.command.out'), 'gh out\n');
  await symlink(path.join(outside, '.command.err'), path.join(task('ef/gh'), '.command.err'));
  await writeFile(path.join(launchDir, '.nextflow.log'), 'own log\n');
  await p.repos.runs.create({ id, name: 'launched', status: 'RUNNING', source: 'platform', launchDir, tokenHash: hashToken(runToken) });

  const trace = ['task_id\tname\tstatus\tworkdir', `1\tA\tCOMPLETED\t${task('ab/cdef')}`, `2\tB\tCOMPLETED\t${outside}`];
  trace.push(
    `3\tC\tCOMPLETED\t${task('cd/link')}`,
    `4\tD\tCOMPLETED\t${task('ef/gh')}`,
    `5\tE\tCOMPLETED\t${task('ab/cdef')}/${'../'.repeat(12)}${outside.slice(1)}`,
  );
  const imported = await p.app.inject({
    method: 'POST',
    url: `/api/v1/runs/${id}/trace`,
    payload: `${trace.join('\n')}\n`,
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(imported.statusCode, 200, imported.body);
  // A task reported by an event (as a token holder could send) with a workdir outside the run.
  const ev = { runName: 'x', runId: crypto.randomUUID(), event: 'process_completed', platformRunId: id };
  const sent = await p.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    payload: { ...ev, trace: { task_id: 6, name: 'F', status: 'COMPLETED', workdir: outside } },
    headers: { authorization: `Bearer ${runToken}` },
  });
  t.equal(sent.statusCode, 202, sent.body);
  await p.ingester.drain();

  const log = (run: string, taskId: number | null, stream = 'out') =>
    p.app.inject({ url: taskId === null ? `/api/v1/runs/${run}/log` : `/api/v1/runs/${run}/tasks/${taskId}/log?stream=${stream}` });
  const inside = await log(id, 1);
  t.equal(inside.statusCode, 200);
  t.equal(inside.body, 'inside\n', 'a task in the run’s work dir is served');
  t.equal((await log(id, 4, 'out')).body, 'gh out\n');
  t.equal((await log(id, null)).body, 'own log\n', 'the run’s own .nextflow.log');
  for (const [taskId, stream, why] of [
    [2, 'out', 'workdir outside the run'],
    [3, 'out', 'workdir is a link out of the work dir'],
    [4, 'err', '.command.err is a link out of the work dir'],
    [5, 'out', '.. out of the work dir'],
    [6, 'out', 'workdir sent in an event'],
  ] as const) {
    const r = await log(id, taskId, stream);
    t.equal(r.statusCode, 404, why);
    t.notMatch(r.body, /server secret/, why);
  }
  const follow = await p.app.inject({ url: `/api/v1/runs/${id}/tasks/2/log?follow=1` });
  t.notMatch(follow.body, /server secret/, 'the SSE follower reads through the same check');

  // A run whose launch dir comes from events (not launched here) serves no logs, even from "its" launch dir.
  const foreign = { runName: 'elsewhere', runId: crypto.randomUUID() };
  const token = (await p.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 't' } })).json().token as string;
  await mkdir(path.join(outside, 'work/aa'), { recursive: true });
  await writeFile(path.join(outside, 'work/aa/.command.out'), 'server secret\n');
  const events = [
    { ...foreign, event: 'started', metadata: { workflow: { launchDir: outside, workDir: path.join(outside, 'work') } } },
    {
      ...foreign,
      event: 'process_completed',
      trace: { task_id: 1, name: 'A', status: 'COMPLETED', workdir: path.join(outside, 'work/aa') },
    },
  ];
  t.equal(
    (await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: events, headers: { authorization: `Bearer ${token}` } }))
      .statusCode,
    202,
  );
  await p.ingester.drain();
  const weblog = (await p.pool.query("SELECT id, launch_dir FROM runs WHERE source = 'weblog'")).rows[0];
  t.equal(weblog.launch_dir, outside, 'the event did set a launch dir');
  t.equal((await log(weblog.id, 1)).statusCode, 404, 'no task log for a run the platform did not launch');
  t.equal((await log(weblog.id, null)).statusCode, 404, 'no .nextflow.log for a run the platform did not launch');

  // A run reconstructed from a trace has no launch dir at all.
  const fromTrace = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs/trace',
    payload: `task_id\tname\tstatus\tworkdir\n1\tA\tCOMPLETED\t${task('ab/cdef')}\n`,
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(fromTrace.statusCode, 201, fromTrace.body);
  t.equal((await log(fromTrace.json().run.id, 1)).statusCode, 404, 'no log for a trace-only run, even pointing at a real work dir');

  // The run's own .nextflow.log replaced by a link out.
  await rm(path.join(launchDir, '.nextflow.log'));
  await symlink(path.join(outside, '.nextflow.log'), path.join(launchDir, '.nextflow.log'));
  t.equal((await log(id, null)).statusCode, 409, '.nextflow.log that links out of the launch dir: answered as no log yet');
});
