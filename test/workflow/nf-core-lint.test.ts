// nf-core conformance: nf-core's own schema lint (nf-core tools from the tools venv) passes with no failures, its
// only warnings are the ones workflows/README.md explains, and every schema parameter is declared in the resolved
// config of every profile (null where the schema has no default), so no run reads an undefined parameter.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/exec.js';
import { cacheDir, nextflowBin, repoRoot } from '../helpers/paths.js';
import { readJson, schemaPath } from './nf.js';

const nfCore = path.join(cacheDir, 'tools/bin/nf-core');
// nf-core runs `nextflow config` itself: the cached launcher goes first on its PATH.
const env = { PATH: `${path.dirname(nextflowBin)}:${process.env.PATH}`, NO_COLOR: '1', TERM: 'dumb' };

/** Warnings nf-core's lint gives this schema, each explained in workflows/README.md ("nf-core conformance"). */
const EXPLAINED = [
  /Default parameter 'synthetic_data' is empty, null, or False/,
  /Default parameter 'remove_doublets' is empty, null, or False/,
  /Default parameter 'container_registry' is empty, null, or False/,
  /Schema `\$id` should be/,
];

t.test('nf-core pipelines schema lint: no failures, only the explained warnings', async (t) => {
  const r = await run(nfCore, ['pipelines', 'schema', 'lint', schemaPath('nextflow_schema.json')], { cwd: repoRoot, env });
  const out = (r.stdout + r.stderr).replace(/\s+/g, ' ');
  t.equal(r.code, 0, out);
  t.match(out, /Default parameters match schema validation/);
  t.match(out, /Pipeline schema looks valid \(found \d+ params\)/);
  t.notMatch(out, /✗|ERROR|Not in pipeline parameters/, 'no invalid defaults, no parameter missing from the config');
  const warnings = out.split(/(?=WARNING)/).filter((w) => w.startsWith('WARNING'));
  for (const w of warnings)
    t.ok(
      EXPLAINED.some((re) => re.test(w)),
      `explained in workflows/README.md: ${w.slice(0, 120)}`,
    );
  const readme = await readFile(path.join(repoRoot, 'workflows/README.md'), 'utf8');
  for (const name of ['synthetic_data', 'remove_doublets', 'container_registry', '$id'])
    t.ok(readme.includes(`\`${name}\``), `workflows/README.md explains the ${name} warning`);
});

for (const profile of [null, 'test', 'stub', 'awsbatch', 'local']) {
  t.test(
    `${profile ? `-profile ${profile}` : 'no profile'}: every schema parameter is declared (null where it has no default)`,
    async (t) => {
      const r = await run(nextflowBin, ['config', repoRoot, ...(profile ? ['-profile', profile] : []), '-flat'], {
        env: { AWS_REGION: 'eu-west-1' },
      });
      t.equal(r.code, 0, r.stderr);
      const declared = new Map(
        r.stdout
          .split('\n')
          .filter((l) => l.startsWith('params.'))
          .map((l) => {
            const i = l.indexOf(' = ');
            return [l.slice('params.'.length, i), l.slice(i + 3)] as const;
          }),
      );
      const schema = await readJson<{ $defs: Record<string, { properties: Record<string, { default?: unknown }> }> }>(
        schemaPath('nextflow_schema.json'),
      );
      for (const group of Object.values(schema.$defs))
        for (const [name, spec] of Object.entries(group.properties)) {
          t.ok(declared.has(name), `params.${name} declared`);
          // whitelist_dir's default is computed by nextflow.config (the bundled lists beside the schema)
          if (!('default' in spec) && !profile && name !== 'whitelist_dir') t.equal(declared.get(name), 'null', `params.${name} = null`);
        }
    },
  );
}
