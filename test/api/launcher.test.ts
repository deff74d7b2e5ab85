// The local launcher end to end with real Nextflow and the real nf-scrna plugin on a small fixture pipeline:
// launch -> events + trace -> COMPLETED with results ingested; logs; relaunch with -resume; cancel.
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { fixtures, platformFor } from './helpers.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

t.test('launch, follow, finish, relaunch with -resume, cancel', async (t) => {
  const port = await freePort();
  const p = await platformFor(t, { pipeline: path.join(fixtures, 'nf-launch'), port, publicUrl: `http://127.0.0.1:${port}` });
  await p.app.listen({ host: '127.0.0.1', port });
  const get = async (id: string) => (await p.app.inject({ url: `/api/v1/runs/${id}` })).json();
  const waitFor = async (id: string, done: (r: { status: string }) => boolean, seconds = 180) => {
    for (let i = 0; i < seconds * 2; i++) {
      const r = await get(id);
      if (done(r)) return r;
      await sleep(500);
    }
    throw new Error(`run ${id} did not get there: ${JSON.stringify(await get(id))}`);
  };
  const ended = (r: { status: string }) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status);

  const created = await p.app.inject({
    method: 'POST',
    url: '/api/v1/runs',
    payload: { profiles: ['test'], name: 'greet', labels: { project: 'demo' } },
  });
  t.equal(created.statusCode, 201, created.body);
  const run = created.json();
  t.equal(run.status, 'SUBMITTED');
  t.match(run.commandLine, /-profile test -c \S+\/workflows\/conf\/platform\.config /);
  const done = await waitFor(
    run.id,
    (r) => ended(r) && (r.status !== 'COMPLETED' || (r as { resultsIngestedAt?: string }).resultsIngestedAt !== null),
  );
  t.equal(done.status, 'COMPLETED', done.errorMessage ?? '');
  t.same(done.progress, { submitted: 0, running: 0, completed: 4, failed: 0, cached: 0, aborted: 0, total: 4 }, 'every task recorded');
  t.ok(done.delivery.eventsReceived >= 10, `the plugin reported events (${done.delivery.eventsReceived})`);
  t.equal(done.delivery.missingSeq, 0);
  t.match(done.sessionId, /^[0-9a-f-]{36}$/);
  t.equal(done.nextflowVersion, '24.10.8');
  const samples = (await p.app.inject({ url: `/api/v1/runs/${run.id}/samples` })).json().items;
  t.equal(samples[0].metrics['Estimated Number of Cells'], 3, 'manifest ingested when the run completed');
  const log = await p.app.inject({ url: `/api/v1/runs/${run.id}/log` });
  t.equal(log.statusCode, 200);
  t.match(log.body, /Execution complete|Workflow completed|execution completed/i);
  const greet = (await p.app.inject({ url: `/api/v1/runs/${run.id}/tasks?process=GREET&tag=b` })).json().items[0];
  const out = await p.app.inject({ url: `/api/v1/runs/${run.id}/tasks/${greet.task_id}/log?stream=out` });
  t.equal(out.body, 'hello from b\n');
  const follow = await p.app.inject({ url: `/api/v1/runs/${run.id}/tasks/${greet.task_id}/log?stream=out&follow=true` });
  t.match(follow.headers['content-type'], /text\/event-stream/);
  t.match(follow.body, /event: log\ndata: \{"text":"hello from b\\n","offset":13\}\n\nevent: end/);

  const again = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${run.id}/relaunch` });
  t.equal(again.statusCode, 201, again.body);
  t.equal(again.json().resumedFrom, run.id);
  t.match(again.json().commandLine, /-resume$/);
  const resumed = await waitFor(again.json().id, ended);
  t.equal(resumed.status, 'COMPLETED');
  t.equal(resumed.progress.cached, 4, 'every task came from the cache');

  const slow = await p.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { profiles: ['test'], params: { sleep: 120 } } });
  const slowId = slow.json().id;
  await waitFor(slowId, (r) => (r as unknown as { progress: { running: number } }).progress.running > 0, 120);
  const cancelled = await p.app.inject({ method: 'POST', url: `/api/v1/runs/${slowId}/cancel` });
  t.equal(cancelled.statusCode, 200);
  t.equal(cancelled.json().status, 'CANCELLED');
  t.equal((await p.app.inject({ method: 'POST', url: `/api/v1/runs/${slowId}/cancel` })).statusCode, 409, 'cancelling twice');
  // Nextflow stops its tasks and exits; the run stays CANCELLED.
  const pid = Number(String(cancelled.json().nativeId).split('@')[0]);
  for (let i = 0; i < 120; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await sleep(500);
  }
  t.throws(() => process.kill(pid, 0), 'nextflow has exited');
  await sleep(500);
  t.equal((await get(slowId)).status, 'CANCELLED');
  await p.ingester.drain();
});
