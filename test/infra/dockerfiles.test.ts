// The images, checked without a Docker engine (none exists here; no image is built by the suite): every
// Dockerfile parses, every FROM is pinned, no useradd takes a UID the base image already has, and every file an
// image copies exists in the repository and is inside that image's build context (<Dockerfile>.dockerignore).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { RDS_CA_BUNDLE } from '../../infra/src/stacks/api.js';
import { repoRoot } from '../helpers/paths.js';

// No Dockerfile parser is among the installed packages: this reads the subset of the syntax the images use
// (continuations, comments, instructions, exec-form JSON) and rejects anything else.
const INSTRUCTIONS = new Set([
  'FROM',
  'ARG',
  'ENV',
  'LABEL',
  'WORKDIR',
  'COPY',
  'ADD',
  'RUN',
  'USER',
  'EXPOSE',
  'HEALTHCHECK',
  'CMD',
  'ENTRYPOINT',
]);

interface Instruction {
  line: number;
  name: string;
  args: string;
}

function parse(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: Instruction | null = null;
  for (const [i, raw] of text.split('\n').entries()) {
    if (!pending && (/^\s*#/.test(raw) || raw.trim() === '')) continue;
    const continued = raw.endsWith('\\');
    const body = continued ? raw.slice(0, -1) : raw;
    if (pending) pending.args += ` ${body.trim()}`;
    else {
      const m = /^([A-Za-z]+)\s+(.*)$/.exec(body.trim());
      if (!m || !INSTRUCTIONS.has(m[1]!.toUpperCase())) throw new Error(`line ${i + 1}: not an instruction: ${raw}`);
      pending = { line: i + 1, name: m[1]!.toUpperCase(), args: m[2]! };
    }
    if (!continued) {
      if (/^(CMD|ENTRYPOINT)$/.test(pending.name) && pending.args.startsWith('[')) JSON.parse(pending.args);
      if (pending.name === 'HEALTHCHECK') JSON.parse(pending.args.slice(pending.args.indexOf('CMD') + 3).trim());
      out.push(pending);
      pending = null;
    }
  }
  if (pending) throw new Error(`line ${pending.line}: continuation runs past the end`);
  return out;
}

/** An exact version (three numeric parts, or a Debian point release such as 12.11) or a digest: never a moving tag. */
function pinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const [repo, tag] = image.split(':');
  if (!tag) return false;
  return /^\d+\.\d+\.\d+/.test(tag) || (repo === 'debian' && /^\d+\.\d+(-slim)?$/.test(tag));
}

/** Users the base images already have (from their own Dockerfiles): a useradd must not reuse their UIDs. */
const BASE_USERS: [RegExp, Record<number, string>][] = [
  [/^(ubuntu:24\.04|eclipse-temurin:.*-noble)$/, { 0: 'root', 1000: 'ubuntu' }],
  [/^node:/, { 0: 'root', 1000: 'node' }],
  [/^(debian|python):/, { 0: 'root' }],
];

/** Problems in one Dockerfile's text; `contextIgnore` is its .dockerignore text. */
function check(text: string, contextIgnore: string | null): string[] {
  const problems: string[] = [];
  const stages = new Set<string>();
  let base = '';
  for (const ins of parse(text)) {
    const at = `line ${ins.line}`;
    if (ins.name === 'FROM') {
      const [image, as, name] = ins.args.split(/\s+/);
      if (!stages.has(image!)) {
        base = image!;
        if (!pinned(image!)) problems.push(`${at}: FROM ${image} is not pinned to an exact version or digest`);
      }
      if (as?.toUpperCase() === 'AS' && name) stages.add(name);
    }
    for (const m of ins.args.matchAll(/useradd\b[^&;|]*--uid\s+(\d+)/g)) {
      const known = BASE_USERS.find(([re]) => re.test(base))?.[1];
      if (!known) problems.push(`${at}: useradd on ${base}, whose users are not in the table`);
      else if (known[Number(m[1])]) problems.push(`${at}: useradd --uid ${m[1]} clashes with ${known[Number(m[1])]} in ${base}`);
    }
    if (ins.name === 'COPY' || ins.name === 'ADD') {
      const words = ins.args.split(/\s+/);
      if (words.some((w) => w.startsWith('--from='))) continue;
      const files = words.filter((w) => !w.startsWith('--'));
      for (const src of files.slice(0, -1)) {
        if (/^https:\/\//.test(src)) continue;
        if (/^[a-z]+:\/\//.test(src)) problems.push(`${at}: ${src} is fetched without TLS`);
        // A build argument names a file the operator supplies (the licensed Cell Ranger tarball): only the context is checked.
        const supplied = src.includes('${');
        const rel = supplied ? src.replace(/\$\{\w+\}/g, 'cellranger-8.0.1.tar.gz') : src;
        if (!supplied && !existsSync(path.join(repoRoot, rel))) problems.push(`${at}: ${src} does not exist in the repository`);
        if (contextIgnore !== null && excluded(rel, contextIgnore))
          problems.push(`${at}: ${src} is outside the build context (.dockerignore)`);
      }
    }
  }
  return problems;
}

/** .dockerignore semantics: the last pattern matching the path or one of its parent directories decides. */
function excluded(file: string, ignore: string): boolean {
  // Docker's `*` also matches names that start with a dot (.cache); Node's glob does not, so dots are spelled out.
  const undot = (p: string) =>
    p
      .split('/')
      .map((x) => (x.startsWith('.') && x !== '.' && x !== '..' ? `_dot_${x.slice(1)}` : x))
      .join('/');
  const rules = ignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), glob: undot(l.replace(/^!/, '').replace(/\/$/, '')) }));
  const parts = undot(path.normalize(file)).split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const r of rules) if (prefixes.some((p) => path.matchesGlob(p, r.glob))) out = !r.negate;
  return out;
}

const dir = path.join(repoRoot, 'containers');
const images = readdirSync(dir).filter((d) => existsSync(path.join(dir, d, 'Dockerfile')));

t.test('every image: parses, pinned FROM, no UID clash, every copied file in the repository and in the context', async (t) => {
  t.same(images.sort(), ['api', 'cellranger', 'head-node', 'scanpy', 'starsolo']);
  for (const image of images) {
    const file = path.join(dir, image, 'Dockerfile');
    const ignoreFile = `${file}.dockerignore`;
    t.ok(existsSync(ignoreFile), `${image}: has ${path.relative(repoRoot, ignoreFile)}`);
    const ignore = existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : null;
    t.same(check(readFileSync(file, 'utf8'), ignore), [], `${image}: no problems`);
    if (ignore)
      for (const heavy of ['.cache/tools/bin/x', 'node_modules/x/index.js', 'test/api/x.ts'])
        t.ok(excluded(heavy, ignore), `${image}: ${heavy.split('/')[0]} stays out`);
  }
});

t.test('the API image: compiled JavaScript on production dependencies, the RDS CA bundle where the ApiStack points', async (t) => {
  const text = readFileSync(path.join(dir, 'api/Dockerfile'), 'utf8');
  const final = text.slice(text.lastIndexOf('\nFROM '));
  t.match(final, /CMD \["node", "api\/dist\/server\.js"\]/);
  t.notMatch(final, /tsx|api\/src/, 'no TypeScript at run time');
  t.match(text, /npm ci [^\n]*--omit=dev -w api/);
  t.match(final, new RegExp(`ADD [^\\n]* https://truststore\\.pki\\.rds\\.amazonaws\\.com/\\S+ ${RDS_CA_BUNDLE}\\n`));
  t.ok(existsSync(path.join(repoRoot, 'api/tsconfig.build.json')), 'the emit tsconfig exists');
});

t.test('the checks fail on what they are meant to catch', async (t) => {
  t.throws(() => parse('FROM node:20.20.2\nFROOM x\n'), /line 2: not an instruction/);
  t.throws(() => parse('FROM node:20.20.2\nCMD ["node",\n'), /JSON/);
  t.match(check('FROM eclipse-temurin:17.0.15_6-jre-noble\nRUN useradd --create-home --uid 1000 nextflow\n', null), [
    /clashes with ubuntu/,
  ]);
  t.match(check('FROM python:3.11-slim-bookworm\n', null), [/not pinned/]);
  t.match(check('FROM debian:bookworm-slim\n', null), [/not pinned/]);
  t.match(check('FROM node:20.20.2-bookworm-slim\nCOPY api/nothing-here.ts /x\n', null), [/does not exist/]);
  t.match(check('FROM node:20.20.2-bookworm-slim\nCOPY api/package.json /x\n', '*\n!ui\n'), [/outside the build context/]);
});
