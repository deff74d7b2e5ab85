// `scrna`: the platform from a terminal. Talks to the API over HTTP (SCRNA_API_URL, SCRNA_API_TOKEN).
//   scrna submit --samplesheet s.csv [--params p.json] [--param k=v] [--profile test] [--name n] [--label k=v] [--wait]
//                [--idempotency-key K]
//   scrna runs [--status S] [--label k=v] [--limit N]      scrna status <run>
//   scrna logs <run> [--task N] [--stream out|err] [--follow]
//   scrna trace import <file> [--run <run>] [--tz Europe/Berlin] [--name n]
//   scrna events replay <spool.jsonl> [--batch 100]
//   scrna outputs <run>      scrna download <run> [path...] [--dir D]
//   scrna webhooks [list | add URL --event E... | rm ID | deliveries ID | redeliver ID DELIVERY]
//   scrna db dump <file>     scrna db restore <file> [--force]      (the database itself: api/src/db-cli.ts)
//   scrna migrate            (talks to the database, not the API: the server's own configuration, then exits)
//   scrna tokens create|list|revoke, scrna projects create|list (cli/access.ts)
// Every command takes --json (machine-readable output), --url and --token.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import nodePath from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ACCESS_USAGE, accessCommand } from './cli/access.js';
import { DB_USAGE, dbCommand } from './db-cli.js';

class CliError extends Error {}

const USAGE = `usage: scrna <command> [options]
  submit --samplesheet FILE [--params FILE.json] [--param k=v]... [--profile P]... [--name N] [--label k=v]... [--wait]
         [--idempotency-key K]   (a retry with the same key returns the first run, never a second)
  runs [--status S] [--label k=v] [--submitter S] [--q TEXT] [--limit N]
  status RUN
  logs RUN [--task ID] [--stream out|err] [--follow]
  trace import FILE [--run RUN] [--tz ZONE] [--name N]
  events replay SPOOL.jsonl [--batch N]
  outputs RUN
  download RUN [PATH]... [--dir D]     (resumes partial files, verifies every sha256)
  webhooks [list]   webhooks add URL --event E... [--description D]   webhooks rm ID
  webhooks deliveries ID [--limit N]   webhooks redeliver ID DELIVERY
${DB_USAGE}
  migrate                              brings the database schema up to date and exits (the server's database
                                       settings: DATABASE_URL, PG*, or SCRNA_DATABASE_SECRET [+ _MASTER_SECRET])
${ACCESS_USAGE}
options for every command: --json, --url URL (SCRNA_API_URL), --token T (SCRNA_API_TOKEN)`;

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    url: { type: 'string' },
    token: { type: 'string' },
    samplesheet: { type: 'string' },
    params: { type: 'string' },
    param: { type: 'string', multiple: true },
    profile: { type: 'string', multiple: true },
    name: { type: 'string' },
    label: { type: 'string', multiple: true },
    submitter: { type: 'string' },
    wait: { type: 'boolean', default: false },
    status: { type: 'string' },
    q: { type: 'string' },
    limit: { type: 'string' },
    task: { type: 'string' },
    stream: { type: 'string', default: 'out' },
    follow: { type: 'boolean', short: 'f', default: false },
    run: { type: 'string' },
    tz: { type: 'string' },
    batch: { type: 'string', default: '100' },
    dir: { type: 'string', default: '.' },
    event: { type: 'string', multiple: true },
    description: { type: 'string' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
    'idempotency-key': { type: 'string' },
    project: { type: 'string' },
    scope: { type: 'string', multiple: true },
    admin: { type: 'boolean', default: false },
  },
});

const base = (opt.url ?? process.env.SCRNA_API_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const token = opt.token ?? process.env.SCRNA_API_TOKEN;
const out = (o: unknown, human: string) => process.stdout.write(opt.json ? `${JSON.stringify(o, null, 2)}\n` : `${human}\n`);

async function api(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const init: RequestInit & { duplex?: string } = { method, headers };
  if (body !== undefined) {
    init.body = contentType === 'application/json' ? JSON.stringify(body) : (body as BodyInit);
    if (typeof (body as { pipe?: unknown }).pipe === 'function') init.duplex = 'half';
  }
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (e) {
    throw new CliError(`cannot reach the API at ${base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok) {
    const text = await res.text();
    let msg = text;
    try {
      const j = JSON.parse(text);
      msg = [
        j.message,
        ...(j.errors ?? [])
          .slice(1)
          .map((e: { message: string; field?: string; line?: number }) => `${e.field ?? ''}${e.line ? `:${e.line}` : ''} ${e.message}`),
      ].join('\n  ');
    } catch {
      // not JSON
    }
    throw new CliError(`${res.status}: ${msg}`);
  }
  return res;
}

const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await (await api(method, path, body)).json()) as T;

function kv(list: string[] | undefined, what: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const s of list ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new CliError(`--${what} expects key=value, got '${s}'`);
    o[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return o;
}

interface RunView {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  progress?: Record<string, number>;
  errorMessage?: string | null;
}

function bar(r: RunView): string {
  const p = r.progress ?? { total: 0 };
  const done = (p.completed ?? 0) + (p.cached ?? 0) + (p.failed ?? 0) + (p.aborted ?? 0);
  const width = 30;
  const fill = p.total ? Math.round((done / p.total) * width) : 0;
  return `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${done}/${p.total ?? 0} tasks, ${p.running ?? 0} running, ${p.failed ?? 0} failed  ${r.status}`;
}

async function wait(id: string): Promise<RunView> {
  const tty = process.stderr.isTTY;
  let last = '';
  for (;;) {
    const r = await json<RunView>('GET', `/api/v1/runs/${id}`);
    const line = bar(r);
    if (line !== last) {
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      last = line;
    }
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status)) {
      if (tty) process.stderr.write('\n');
      return r;
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
}

async function submit(): Promise<number> {
  if (!opt.samplesheet && !opt.profile?.includes('test')) throw new CliError('--samplesheet is required (or --profile test)');
  const params: Record<string, unknown> = opt.params ? JSON.parse(await readFile(opt.params, 'utf8')) : {};
  for (const [k, v] of Object.entries(kv(opt.param, 'param')))
    params[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  const body = {
    params,
    ...(opt.samplesheet ? { samplesheet: await readFile(opt.samplesheet, 'utf8') } : {}),
    profiles: opt.profile ?? [],
    ...(opt.name ? { name: opt.name } : {}),
    labels: kv(opt.label, 'label'),
    ...(opt.submitter ? { submitter: opt.submitter } : {}),
  };
  const key = opt['idempotency-key'];
  const run = (await (
    await api('POST', '/api/v1/runs', body, 'application/json', key ? { 'idempotency-key': key } : {})
  ).json()) as RunView;
  if (!opt.wait) {
    out(run, `${run.id} ${run.status}`);
    return 0;
  }
  if (!opt.json) process.stderr.write(`submitted ${run.id}\n`);
  const end = await wait(run.id);
  out(end, `${end.id} ${end.status}${end.errorMessage ? `: ${end.errorMessage}` : ''}`);
  return end.status === 'COMPLETED' ? 0 : 1;
}

async function runs(): Promise<number> {
  const qs = new URLSearchParams();
  if (opt.status) qs.set('status', opt.status);
  for (const l of opt.label ?? []) qs.append('label', l);
  if (opt.submitter) qs.set('submitter', opt.submitter);
  if (opt.q) qs.set('q', opt.q);
  qs.set('limit', opt.limit ?? '20');
  const r = await json<{ items: RunView[]; total: number }>('GET', `/api/v1/runs?${qs}`);
  out(
    r,
    [...r.items.map((x) => `${x.id}  ${x.status.padEnd(9)}  ${x.createdAt}  ${x.name}`), `(${r.items.length} of ${r.total})`].join('\n'),
  );
  return 0;
}

async function status(id: string | undefined): Promise<number> {
  if (!id) throw new CliError('status needs a run id');
  const r = await json<RunView>('GET', `/api/v1/runs/${id}`);
  out(r, `${r.name} (${r.id})\n${bar(r)}${r.errorMessage ? `\nerror: ${r.errorMessage}` : ''}`);
  return 0;
}

async function logs(id: string | undefined): Promise<number> {
  if (!id) throw new CliError('logs needs a run id');
  const path = opt.task ? `/api/v1/runs/${id}/tasks/${opt.task}/log?stream=${opt.stream}` : `/api/v1/runs/${id}/log?x=1`;
  if (!opt.follow) {
    const text = await (await api('GET', path)).text();
    if (opt.json) out({ text }, '');
    else process.stdout.write(text);
    return 0;
  }
  const res = await api('GET', `${path}&follow=true`);
  const lines = createInterface({ input: (await import('node:stream')).Readable.fromWeb(res.body as never) });
  let event = '';
  for await (const line of lines) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ') && event === 'log') {
      const d = JSON.parse(line.slice(6));
      process.stdout.write(opt.json ? `${JSON.stringify(d)}\n` : d.text);
    } else if (line.startsWith('data: ') && event === 'end') break;
  }
  return 0;
}

async function traceImport(file: string | undefined): Promise<number> {
  if (!file) throw new CliError('trace import needs a file');
  await stat(file).catch(() => {
    throw new CliError(`no such file: ${file}`);
  });
  const qs = new URLSearchParams();
  if (opt.tz) qs.set('tz', opt.tz);
  if (opt.name) qs.set('name', opt.name);
  const path = opt.run ? `/api/v1/runs/${opt.run}/trace?${qs}` : `/api/v1/runs/trace?${qs}`;
  const res = await api('POST', path, createReadStream(file), 'text/plain');
  const r = (await res.json()) as { rows: number; run?: RunView };
  out(r, `${r.rows} task rows imported into ${r.run?.id ?? opt.run}`);
  return 0;
}

/** Posts a plugin spool file (JSON lines, one event or one batch per line) to the API, in order. */
async function replay(file: string | undefined): Promise<number> {
  if (!file) throw new CliError('events replay needs a spool file');
  const size = Math.max(1, Number(opt.batch));
  let batch: unknown[] = [];
  let sent = 0;
  let lineNo = 0;
  const flush = async () => {
    if (!batch.length) return;
    await api('POST', '/api/v1/events', batch);
    sent += batch.length;
    batch = [];
  };
  for await (const line of createInterface({ input: createReadStream(file) })) {
    lineNo++;
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new CliError(`${file}:${lineNo}: not JSON`);
    }
    batch.push(...(Array.isArray(v) ? v : [v]));
    if (batch.length >= size) await flush();
  }
  await flush();
  out({ sent }, `${sent} events sent`);
  return 0;
}

interface OutputView {
  path: string;
  kind: string;
  sample: string | null;
  size: number;
  sha256: string;
}

const bytes = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1024 ** 3
        ? `${(n / 1024 ** 2).toFixed(1)} MiB`
        : `${(n / 1024 ** 3).toFixed(2)} GiB`;

const listOutputs = async (id: string) => (await json<{ items: OutputView[] }>('GET', `/api/v1/runs/${id}/outputs`)).items;

async function outputs(id: string | undefined): Promise<number> {
  if (!id) throw new CliError('outputs needs a run id');
  const items = await listOutputs(id);
  out(
    { items },
    items.length
      ? items.map((o) => `${bytes(o.size).padStart(10)}  ${o.kind.padEnd(14)} ${(o.sample ?? '-').padEnd(12)} ${o.path}`).join('\n')
      : '(no outputs: results not ingested yet?)',
  );
  return 0;
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

const sizeOf = (file: string) =>
  stat(file).then(
    (s) => s.size,
    () => null,
  );

/** One progress line on stderr (rewritten in place on a terminal, a line per file otherwise). */
function progress(label: string, total: number) {
  const tty = process.stderr.isTTY && !opt.json;
  let done = 0;
  let last = 0;
  const draw = () => {
    const width = 30;
    const fill = total ? Math.round((done / total) * width) : width;
    process.stderr.write(`\r[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${bytes(done)}/${bytes(total)}  ${label}\x1b[K`);
  };
  return {
    add(n: number) {
      done += n;
      // Redraw at most every 1% so a fast local copy is not slowed by the terminal.
      if (tty && (done - last >= total / 100 || done === total)) {
        last = done;
        draw();
      }
    },
    end(status: string) {
      if (tty) process.stderr.write(`\r\x1b[K`);
      if (!opt.json) process.stderr.write(`${status.padEnd(10)} ${bytes(total).padStart(10)}  ${label}\n`);
    },
  };
}

/**
 * Fetches one output into `dest`: bytes go to `dest.part` first; a partial left by an interrupted download is resumed
 * with Range (If-Range: the ETag, so a changed file starts over), and the finished file must match the manifest's
 * sha256. A mismatch (a corrupted partial) is fetched once more from the start.
 */
async function downloadOne(id: string, o: OutputView, dest: string): Promise<string> {
  if ((await sizeOf(dest)) === o.size && (await fileSha256(dest)) === o.sha256) return 'verified';
  const part = `${dest}.part`;
  await mkdir(nodePath.dirname(dest), { recursive: true });
  const url = `/api/v1/runs/${id}/outputs/${o.path.split('/').map(encodeURIComponent).join('/')}`;
  let status = 'downloaded';
  for (let attempt = 0; attempt < 2; attempt++) {
    let have = (await sizeOf(part)) ?? 0;
    if (have > o.size) {
      await rm(part);
      have = 0;
    }
    const bar = progress(o.path, o.size);
    if (have < o.size || have === 0) {
      const res = await api('GET', url, undefined, undefined, have ? { range: `bytes=${have}-`, 'if-range': `"${o.sha256}"` } : {});
      const resumed = res.status === 206;
      if (resumed) status = 'resumed';
      bar.add(resumed ? have : 0);
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bar.add(chunk.length);
          cb(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as never), count, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
    }
    if ((await fileSha256(part)) === o.sha256) {
      await rename(part, dest);
      bar.end(status);
      return status;
    }
    bar.end('corrupt');
    await rm(part);
    status = 'refetched';
  }
  throw new CliError(`${o.path}: checksum mismatch after a fresh download (expected ${o.sha256})`);
}

async function download(id: string | undefined, paths: string[]): Promise<number> {
  if (!id) throw new CliError('download needs a run id');
  const all = await listOutputs(id);
  const missing = paths.filter((p) => !all.some((o) => o.path === p));
  if (missing.length) throw new CliError(`not among the run's outputs: ${missing.join(', ')}`);
  const chosen = paths.length ? all.filter((o) => paths.includes(o.path)) : all;
  const dir = nodePath.resolve(opt.dir ?? '.');
  const done: (OutputView & { file: string; status: string })[] = [];
  for (const o of chosen) {
    const file = nodePath.resolve(dir, o.path);
    // The listing comes from the server: never let it write outside --dir.
    if (!file.startsWith(`${dir}${nodePath.sep}`)) throw new CliError(`refusing to write ${o.path} outside ${dir}`);
    done.push({ ...o, file, status: await downloadOne(id, o, file) });
  }
  const total = chosen.reduce((n, o) => n + o.size, 0);
  out({ items: done }, `${done.length} files, ${bytes(total)}, every sha256 verified, in ${dir}`);
  return 0;
}

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  secret?: string;
}

interface DeliveryView {
  id: string;
  eventType: string;
  runId: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

async function webhooks(sub: string | undefined, args: string[]): Promise<number> {
  if (!sub || sub === 'list') {
    const { items } = await json<{ items: WebhookView[] }>('GET', '/api/v1/webhooks');
    out({ items }, items.map((w) => `${w.id}  ${w.url}  ${w.events.join(',')}`).join('\n') || 'no webhooks');
    return 0;
  }
  const [a, b] = args;
  if (sub === 'add') {
    if (!a || !opt.event?.length) throw new CliError('webhooks add needs a URL and at least one --event');
    const w = await json<WebhookView>('POST', '/api/v1/webhooks', { url: a, events: opt.event, description: opt.description });
    out(w, `${w.id}  ${w.url}\nsigning secret (shown once; keep it with the receiver): ${w.secret}`);
    return 0;
  }
  if (sub === 'rm' && a) {
    await api('DELETE', `/api/v1/webhooks/${encodeURIComponent(a)}`);
    out({ deleted: a }, `deleted ${a}`);
    return 0;
  }
  if (sub === 'deliveries' && a) {
    const q = opt.limit ? `?limit=${encodeURIComponent(opt.limit)}` : '';
    const { items } = await json<{ items: DeliveryView[] }>('GET', `/api/v1/webhooks/${encodeURIComponent(a)}/deliveries${q}`);
    const line = (d: DeliveryView) =>
      `${d.id}  ${d.eventType.padEnd(22)} run ${d.runId.slice(0, 8)}  ${d.state.padEnd(9)} ${d.attempts} attempts  ${d.lastStatus ?? d.lastError ?? ''}`;
    out({ items }, items.map(line).join('\n') || 'no deliveries');
    return 0;
  }
  if (sub === 'redeliver' && a && b) {
    const d = await json<DeliveryView>('POST', `/api/v1/webhooks/${encodeURIComponent(a)}/deliveries/${encodeURIComponent(b)}/redeliver`);
    out(d, `${d.id} queued for redelivery`);
    return 0;
  }
  throw new CliError(`webhooks: unknown or incomplete command\n${USAGE}`);
}

/**
 * Runs the schema migrations with the server's own database settings and exits: the deployed migration task. With a
 * master secret as well, the application's role is created first, so the schema is owned by it and not the master.
 */
async function migrateDatabase(): Promise<number> {
  const [{ loadConfig }, { openDatabase }, { migrate }, { DEPLOYED_ENV }] = await Promise.all([
    import('./config.js'),
    import('./composition.js'),
    import('./db/migrations.js'),
    import('./aws-env.js'),
  ]);
  const config = loadConfig();
  const master = process.env[DEPLOYED_ENV.databaseMasterSecret]?.trim();
  let roleCreated: string | null = null;
  if (master && config.databaseSecret) {
    const [{ SecretsManagerClient }, { SecretDbLogin, ensureApplicationRole }, { tlsVerifiedBy }] = await Promise.all([
      import('@aws-sdk/client-secrets-manager'),
      import('./adapters/secret-db-login.js'),
      import('./db/connect.js'),
    ]);
    const client = new SecretsManagerClient(config.aws ? { region: config.aws.region } : {});
    try {
      const app = new SecretDbLogin(client, config.databaseSecret);
      const created = await ensureApplicationRole(new SecretDbLogin(client, master, false), app, tlsVerifiedBy(config.databaseCaBundle));
      if (created) roleCreated = (await app.current()).role ?? null;
    } finally {
      client.destroy();
    }
  }
  const database = await openDatabase(config);
  try {
    await migrate(database.conn.db);
    const { rows } = await database.conn.pool.query<{ name: string }>('SELECT name FROM kysely_migration ORDER BY name');
    const latest = rows.at(-1)?.name ?? null;
    out(
      { migrations: rows.length, latest, roleCreated },
      `${roleCreated ? `created role ${roleCreated}\n` : ''}schema up to date: ${rows.length} migrations, latest ${latest}`,
    );
  } finally {
    await database.close();
  }
  return 0;
}

async function main(): Promise<number> {
  const [cmd, sub, arg] = positionals;
  if (opt.help || !cmd) {
    process.stdout.write(`${USAGE}\n`);
    return cmd || opt.help ? 0 : 2;
  }
  if (cmd === 'submit') return submit();
  if (cmd === 'runs') return runs();
  if (cmd === 'status') return status(sub);
  if (cmd === 'logs') return logs(sub);
  if (cmd === 'trace' && sub === 'import') return traceImport(arg);
  if (cmd === 'events' && sub === 'replay') return replay(arg);
  if (cmd === 'outputs') return outputs(sub);
  if (cmd === 'download') return download(sub, positionals.slice(2));
  if (cmd === 'webhooks') return webhooks(sub, positionals.slice(2));
  if (cmd === 'db') return dbCommand(sub, arg, { force: Boolean(opt.force), json: Boolean(opt.json) });
  if (cmd === 'migrate') return migrateDatabase();
  const access = await accessCommand(
    {
      json,
      call: (method, path) => api(method, path),
      out,
      fail: (m) => {
        throw new CliError(m);
      },
      opt,
    },
    cmd,
    sub,
    arg,
  );
  if (access !== null) return access;
  throw new CliError(`unknown command: ${positionals.join(' ')}\n${USAGE}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (!(e instanceof CliError)) throw e;
    process.stderr.write(opt.json ? `${JSON.stringify({ error: e.message })}\n` : `scrna: ${e.message}\n`);
    process.exitCode = 1;
  },
);
