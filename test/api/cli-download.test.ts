// `scrna outputs` and `scrna download` against a listening API: partial files left by an interrupted download are
// resumed with Range, a corrupted partial is caught by its checksum and fetched again, and every file is verified.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { sha256, writeOutdir } from '../helpers/outputs.js';
import { repoRoot } from '../helpers/paths.js';
import { platformFor } from './helpers.js';

const scrna = path.join(repoRoot, 'api/bin/scrna.js');

t.test('scrna outputs and download with resume and checksums', async (t) => {
  const p = await platformFor(t);
  const outdir = path.join(p.dataDir, 'runs/r1/results');
  const r = await p.repos.runs.create({ id: crypto.randomUUID(), name: 'done', status: 'COMPLETED', source: 'platform', outdir });
  const written = await writeOutdir(outdir);
  t.equal((await p.app.inject({ method: 'POST', url: `/api/v1/runs/${r.id}/results` })).statusCode, 200);
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  // What the CLI asked for: each output request with its Range header.
  const asked: { path: string; range: string | null }[] = [];
  p.app.server.on('request', (req) => {
    const m = /\/outputs\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    if (m) asked.push({ path: m[1]!, range: req.headers.range ?? null });
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'scrna-download-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cli = async (...args: string[]) => {
    const x = await run('node', [scrna, ...args], { env: { SCRNA_API_URL: url } });
    return { ...x, json: () => JSON.parse(x.stdout) };
  };

  const list = await cli('outputs', r.id, '--json');
  t.equal(list.code, 0, list.stderr);
  t.same(
    list.json().items,
    written.map(({ bytes: _, ...o }) => o),
  );
  t.match((await cli('outputs', r.id)).stdout, /293\.0 KiB {2}h5ad +- +integrate\/integrated\.h5ad/);

  // An interrupted download: a good partial of the large file, a corrupted partial of another.
  const big = written.find((o) => o.path.endsWith('.h5ad'))!;
  const mtx = written.find((o) => o.path.endsWith('.mtx'))!;
  await mkdir(path.join(dir, 'integrate'), { recursive: true });
  await writeFile(path.join(dir, `${big.path}.part`), big.bytes.subarray(0, 100_000));
  await mkdir(path.join(dir, 'count/pbmc2'), { recursive: true });
  await writeFile(path.join(dir, `${mtx.path}.part`), 'corrupted!');

  const first = await cli('download', r.id, '--dir', dir);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, /resumed .*integrate\/integrated\.h5ad/);
  t.match(first.stderr, /corrupt .*count\/pbmc2\/matrix\.mtx/);
  t.match(first.stderr, /refetched .*count\/pbmc2\/matrix\.mtx/);
  t.match(first.stdout, /5 files, .* every sha256 verified/);
  for (const o of written) t.equal(sha256(await readFile(path.join(dir, o.path))), o.sha256, `${o.path} verified on disk`);
  t.same(
    asked.filter((a) => a.path === big.path),
    [{ path: big.path, range: 'bytes=100000-' }],
    'the large file resumed from its partial, once',
  );
  t.same(
    asked.filter((a) => a.path === mtx.path),
    [
      { path: mtx.path, range: 'bytes=10-' },
      { path: mtx.path, range: null },
    ],
    'the corrupted partial resumed, failed its checksum, and was fetched whole',
  );
  const left = await readdir(dir, { recursive: true });
  t.same(
    left.filter((f) => f.endsWith('.part')),
    [],
    'no partial files left',
  );

  asked.length = 0;
  const again = await cli('download', r.id, '--dir', dir, '--json');
  t.equal(again.code, 0, again.stderr);
  t.same(
    again.json().items.map((o: { status: string }) => o.status),
    written.map(() => 'verified'),
    'a second download verifies what is there',
  );
  t.same(asked, [], 'and fetches nothing');

  // One file by path, into another directory.
  const one = await cli('download', r.id, mtx.path, '--dir', path.join(dir, 'one'), '--json');
  t.equal(one.code, 0, one.stderr);
  t.same(
    one.json().items.map((o: { path: string; status: string }) => [o.path, o.status]),
    [[mtx.path, 'downloaded']],
  );
  const unknown = await cli('download', r.id, 'nope.txt', '--dir', dir);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /not among the run's outputs: nope\.txt/);
});
