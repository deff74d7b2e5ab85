// The event spool on disk: what a process appended comes back to the next one (with its dates), a torn last line is
// skipped, and segments whose submissions are all stored are deleted.
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { FsEventSpool } from '../../api/src/adapters/fs-event-spool.js';
import type { IncomingEvent } from '../../api/src/domain/ports.js';

const incoming = (i: number): IncomingEvent => ({
  event: { runName: 'r', runId: 's', event: 'process_submitted', trace: { task_id: i } },
  tokenRunId: null,
  owner: 'tok',
  project: 'default',
  admin: false,
  receivedAt: new Date(1_795_000_000_000 + i),
});

t.test('appended submissions survive a restart; stored segments are deleted', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'scrna-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await FsEventSpool.open(dir);
  t.same(await first.recover(), [], 'a new spool has nothing to hand back');
  const tickets = await Promise.all([1, 2, 3].map((i) => first.append([incoming(i), incoming(i + 10)])));
  first.release(tickets[0]!);
  await first.close();
  // A process killed in the middle of a write leaves a partial line; it was never answered.
  const [file] = await readdir(dir);
  await appendFile(path.join(dir, file!), '[{"event":{"runName":"torn"');

  const second = await FsEventSpool.open(dir);
  const back = await second.recover();
  t.equal(back.length, 3, 'every whole line comes back (a released one too: replaying a stored event is a no-op)');
  t.same(
    back.flatMap((b) => b.events.map((e) => e.event.trace?.task_id)).sort((a, b) => Number(a) - Number(b)),
    [1, 2, 3, 11, 12, 13],
  );
  t.ok(back[0]!.events[0]!.receivedAt instanceof Date, 'dates come back as dates');
  t.same(
    back.map((b) => b.events[0]!.receivedAt.getTime()).sort(),
    [1, 2, 3].map((i) => 1_795_000_000_000 + i),
  );
  for (const b of back) second.release(b.ticket);
  await sleep(50);
  t.same(await readdir(dir), ['events-2.jsonl'], 'the old segment is gone once all of it is stored; the live one stays');
  await second.close();
  t.same(await readdir(dir), [], 'a spool closed with everything stored leaves no file');

  const small = await FsEventSpool.open(dir, 200);
  const many = [];
  for (let i = 0; i < 6; i++) many.push(await small.append([incoming(i)]));
  t.ok(new Set(many).size > 2, `full segments are followed by new ones (${new Set(many).size} used)`);
  for (const k of many) small.release(k);
  await sleep(50);
  t.equal((await readdir(dir)).length, 1, 'only the live segment is left once everything is stored');
  await small.close();
});
