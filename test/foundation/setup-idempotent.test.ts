// The test command already ran setup; running it again must find everything in place and do no work.
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';

t.test('a second setup run skips every step it already did', async (t) => {
  const r = await run('bash', [path.join(repoRoot, 'scripts/setup.sh')], { cwd: repoRoot });
  t.equal(r.code, 0, r.stderr);
  const work = r.stderr.split('\n').filter((l) => /\b(installing|resolving|creating|building|generating|downloading)\b/i.test(l));
  t.same(work, [], 'no step re-did its work');
  t.match(r.stderr, /setup complete/);
});
