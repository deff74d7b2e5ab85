// The trace follower: reads each byte of a growing trace once, hands back only whole new lines behind the header,
// and the run service stops following once live events arrive (the final import at the end still runs).
import { appendFile, chmod, mkdtemp, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { FsResultStore } from '../../api/src/adapters/fs-results.js';
import { TraceFollower } from '../../api/src/domain/trace-follower.js';
import { platformFor } from './helpers.js';

const HEADER = 'task_id\thash\tname\tstatus\n';
const row = (i: number) => `${i}\t0${i}/abcdef\tSTEP (${i})\tCOMPLETED\n`;

t.test('only appended whole lines, each byte read once', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'follow-'));
  const file = path.join(dir, 'trace.txt');
  const fs = new FsResultStore();
  let bytesRead = 0;
  const counting = {
    size: (u: string) => fs.size(u),
    async *stream(u: string, start?: number) {
      for await (const c of fs.stream(u, start)) {
        bytesRead += c.length;
        yield c;
      }
    },
  };
  const f = new TraceFollower(counting, file);
  t.equal(await f.next(), null, 'no file yet');
  await writeFile(file, HEADER);
  t.equal(await f.next(), null, 'a header alone has no rows');
  await appendFile(file, `${row(1)}${row(2).slice(0, 5)}`);
  t.equal((await f.next())?.toString(), HEADER + row(1), 'the partial second row waits');
  await appendFile(file, row(2).slice(5) + row(3));
  t.equal((await f.next())?.toString(), HEADER + row(2) + row(3), 'the header, then only the new rows');
  t.equal(await f.next(), null, 'nothing new');
  const size = (await stat(file)).size;
  t.ok(bytesRead <= size + row(2).length, `read ${bytesRead} bytes of a ${size}-byte file (the partial row twice at most)`);
  await truncate(file, 0);
  await writeFile(file, HEADER + row(9));
  t.equal((await f.next())?.toString(), HEADER + row(9), 'a replaced (shorter) file is read from its start');
});

t.test('the run service follows the trace until events arrive', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-nf-'));
  // Stands in for `nextflow run` (what is tested here is the API's following, not Nextflow): it writes a trace in
  // steps the test controls and hands its per-run token to the test through the launch directory.
  const nf = path.join(dir, 'nextflow');
  await writeFile(
    nf,
    `#!/bin/sh
while [ "$1" != "--outdir" ]; do shift; done
mkdir -p "$2/pipeline_info"; trace="$2/pipeline_info/trace.txt"
printf '${HEADER.replaceAll('\t', '\\t').replaceAll('\n', '\\n')}${row(1).replaceAll('\t', '\\t').replaceAll('\n', '\\n')}' > "$trace"
printf '%s' "$SCRNA_API_TOKEN" > token
i=0; while [ ! -f go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
printf '${row(2).replaceAll('\t', '\\t').replaceAll('\n', '\\n')}' >> "$trace"
i=0; while [ ! -f end ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
exit 0
`,
  );
  await chmod(nf, 0o755);
  const p = await platformFor(t, { nextflowBin: nf });
  const run = (await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'] } })).json();
  const tasks = async () =>
    (await p.app.inject({ url: `/api/v1/runs/${run.id}/tasks` })).json().items.map((x: { task_id: number }) => x.task_id);
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++)
      if (await ok()) return;
      else await sleep(200);
    throw new Error(`timed out waiting for ${what}`);
  };
  await until('the first row', async () => (await tasks()).includes(1));
  t.same(await tasks(), [1], 'a row of the running trace is imported');
  const launchDir = run.launchDir as string;
  const token = await readFile(path.join(launchDir, 'token'), 'utf8');
  const ev = { runName: 'fake_run', runId: '11111111-2222-4333-8444-555555555555', event: 'started', utcTime: new Date().toISOString() };
  const posted = await p.app.inject({ method: 'POST', url: '/api/v1/events', payload: ev, headers: { authorization: `Bearer ${token}` } });
  t.equal(posted.statusCode, 202);
  await p.ingester.drain();
  // Give the follower two ticks to see the event before the trace grows.
  await sleep(4500);
  await writeFile(path.join(launchDir, 'go'), '');
  await sleep(4500);
  t.same(await tasks(), [1], 'once events arrive the trace is no longer re-read while the run is active');
  await writeFile(path.join(launchDir, 'end'), '');
  await until('the run to end', async () => (await p.app.inject({ url: `/api/v1/runs/${run.id}` })).json().status === 'COMPLETED');
  await until('the final import', async () => (await tasks()).includes(2));
  t.same(await tasks(), [1, 2], 'the final import at the end brings the rest');
});
