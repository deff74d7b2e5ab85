// Runs: list, launch, validate, one run, cancel, relaunch, trace uploads, processes and tasks.
import type { FastifyPluginAsyncJsonSchemaToTs, JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ownerOf, type Principal, projectOf, visibleProject } from '../../domain/auth.js';
import { DomainError } from '../../domain/errors.js';
import { IDEMPOTENCY_HEADER, requestHash } from '../../domain/idempotency.js';
import type { Run, RunQuery, TaskQuery } from '../../domain/ports.js';
import { RUN_STATUSES } from '../../domain/ports.js';
import { processProgress, runProgress } from '../../domain/progress.js';
import { TASK_FIELDS } from '../../domain/task-fields.js';
import { runOf } from '../access.js';
import { csvStream } from '../csv-export.js';
import { CSV_PAGE_ROWS } from '../limits.js';
import {
  cursorParam,
  DATE_RE,
  dateTimeParam,
  ErrorResponses,
  IdempotencyKeyHeaders,
  idParam,
  int32,
  Progress,
  RunDetail,
  RunList,
  RunRequestBody,
  RunSummary,
  statusListParam,
  TaskList,
  TRACE_BODY_PATTERN,
  timeZoneParam,
  ValidateRequestBody,
  ValidationResult,
} from '../schemas.js';
import { decodeTaskCursor, TaskPages } from '../task-pages.js';

const TASK_COLUMNS = ['task_id', 'attempt', 'status', ...TASK_FIELDS.map((f) => f.column)];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;
const OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'like'] as const;
const TEXT_BODY = ['text/plain', 'text/tab-separated-values', 'text/csv', 'application/octet-stream'];

/** A keyset position after run `r` in the newest-first run list: its creation time and id. */
export function encodeCursor(r: Run): string {
  return `${r.createdAt}_${r.id}`;
}

/** The native route's pattern (cursorParam) already holds it to this shape; WES page tokens are checked here. */
export function decodeCursor(c: string, field = 'cursor'): { createdAt: string; id: string } {
  const at = c.lastIndexOf('_');
  const createdAt = c.slice(0, at);
  const id = c.slice(at + 1);
  if (at < 0 || Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/i.test(id))
    throw new DomainError('invalid', `${field} is not one this API returned`, { field });
  return { createdAt, id };
}

/** The runs a caller may list: a non-admin token its own; a per-run token none (it reads only its own run). */
/** Which runs a caller's lists hold (native and WES): its project's, or every project's for an admin. */
export function listScope(p: Principal | null): Pick<RunQuery, 'project'> {
  if (p?.kind === 'run') throw new DomainError('forbidden', 'a per-run token reads only its own run (GET /runs/{id})');
  return { project: visibleProject(p) ?? undefined };
}

export async function runDetail(app: FastifyInstance, run: Run) {
  const progress = await runProgress(app.services.repos.tasks, run.id);
  const started = run.startedAt ? Date.parse(run.startedAt) : null;
  const end = run.completedAt ? Date.parse(run.completedAt) : Date.now();
  return {
    ...run,
    progress,
    timings: {
      queuedMs: started !== null ? Math.max(0, started - Date.parse(run.createdAt)) : null,
      wallMs: started !== null ? Math.max(0, end - started) : null,
    },
  };
}

// Trace bodies are streams and WES submissions multipart forms (neither validated as JSON; their handlers parse
// them); their query strings and path parameters are checked like everywhere else.
const queryAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(queryAjv);
export const streamBodyCompiler = ({ schema, httpPart }: { schema: object; httpPart?: string }) => {
  if (httpPart === 'body') return () => true;
  const fn = queryAjv.compile(schema);
  return (data: unknown) =>
    fn(data)
      ? { value: data }
      : { error: Object.assign(new Error(queryAjv.errorsText(fn.errors)), { validation: fn.errors, validationContext: httpPart }) };
};

/** Trace uploads arrive as a raw byte stream so a large file is parsed while it is received. */
function rawBody(app: FastifyInstance) {
  app.addContentTypeParser(TEXT_BODY, (_req, payload, done) => done(null, payload));
}

const asList = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v.map(String) : String(v).split(',');

function taskQuery(q: Record<string, unknown>): TaskQuery {
  const sort = String(q.sort ?? 'task_id');
  if (!TASK_COLUMNS.includes(sort)) throw new DomainError('invalid', `cannot sort by '${sort}'`, { field: 'sort' });
  const filters: TaskQuery['filters'] = [];
  for (const col of TASK_COLUMNS) {
    const raw = q[col];
    if (raw === undefined || raw === '') continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const s = String(v);
      const m = /^(eq|ne|gt|gte|lt|lte|like):(.*)$/s.exec(s);
      const op = (m?.[1] as (typeof OPS)[number]) ?? 'eq';
      const value = m ? m[2]! : s;
      const field = TASK_FIELDS.find((f) => f.column === col);
      const kind = col === 'status' ? 'str' : col === 'task_id' || col === 'attempt' ? 'int' : field!.kind;
      if (op !== 'like' && kind === 'date' && !(ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))))
        throw new DomainError('invalid', `'${value}' is not a date`, { field: col });
      if (op !== 'like' && kind !== 'str' && kind !== 'date' && !/^-?\d+(\.\d+)?$/.test(value))
        throw new DomainError('invalid', `'${value}' is not a number`, { field: col });
      filters.push({ column: col, op, value });
    }
  }
  const order = q.order === 'desc' ? 'desc' : 'asc';
  const offset = Number(q.offset ?? 0);
  if (q.cursor !== undefined && offset) throw new DomainError('invalid', 'page by offset or by cursor, not both', { field: 'cursor' });
  const after = q.cursor === undefined ? undefined : decodeTaskCursor(String(q.cursor), { sort, order });
  return { limit: Number(q.limit ?? 100), offset, sort, order, filters, after };
}

export const runRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { runs, repos } = app.services;

  app.get(
    '/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'List runs, newest first (keyset pagination)',
        querystring: {
          type: 'object',
          properties: {
            status: statusListParam,
            label: {
              anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
              description: 'key or key=value; repeat for AND',
            },
            submitter: { type: 'string' },
            from: dateTimeParam,
            to: dateTimeParam,
            q: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            cursor: cursorParam,
          },
        },
        response: { 200: RunList, ...ErrorResponses },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const q = req.query;
      const status = asList(q.status);
      for (const s of status ?? [])
        if (!RUN_STATUSES.includes(s as never)) throw new DomainError('invalid', `unknown status '${s}'`, { field: 'status' });
      const limit = Number(q.limit ?? 50);
      const { items, total } = await repos.runs.list({
        status,
        label: asList(q.label)?.filter(Boolean),
        submitter: q.submitter,
        from: q.from,
        to: q.to,
        q: q.q,
        ...listScope(req.principal),
        limit: limit + 1,
        cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
      });
      const page = items.slice(0, limit);
      return { items: page, total, nextCursor: items.length > limit ? encodeCursor(page[page.length - 1]!) : null };
    },
  );

  app.post(
    '/runs',
    {
      schema: {
        tags: ['runs'],
        summary: "Validate and launch a run (into the caller's project); with an Idempotency-Key, at most once per key",
        headers: IdempotencyKeyHeaders,
        body: RunRequestBody,
        response: { 201: RunDetail, ...ErrorResponses },
      },
      config: { access: 'write' },
    },
    async (req, reply) => {
      const body = req.body;
      const owner = ownerOf(req.principal);
      const project = projectOf(req.principal);
      const launch = async () => {
        const run = await runs.create({ ...body, submitter: body.submitter ?? owner ?? undefined }, owner, project);
        return { status: 201, body: await runDetail(app, run), runId: run.id };
      };
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (!key) return reply.code(201).send((await launch()).body);
      const r = await app.services.idempotency.once(project, key, requestHash('POST /api/v1/runs', body), launch);
      if (r.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(r.status as 201).send(r.body);
    },
  );

  app.post(
    '/runs/validate',
    {
      schema: {
        tags: ['runs'],
        summary: 'Check a launch request without launching; returns the errors and the command',
        body: ValidateRequestBody,
        response: { 200: ValidationResult, ...ErrorResponses },
      },
      config: { access: 'read' },
    },
    async (req) => runs.validate(req.body),
  );

  app.get(
    '/runs/:id',
    {
      schema: { tags: ['runs'], summary: 'One run with task progress', params: idParam, response: { 200: RunDetail, ...ErrorResponses } },
      config: { run: 'read' },
    },
    async (req) => runDetail(app, runOf(req)),
  );

  for (const [action, summary] of [
    ['cancel', 'Stop a running run'],
    ['relaunch', 'Launch the run again with -resume (a new run that reuses cached tasks)'],
  ] as const)
    app.post(
      `/runs/:id/${action}`,
      {
        schema: { tags: ['runs'], summary, params: idParam, response: { [action === 'cancel' ? 200 : 201]: RunDetail, ...ErrorResponses } },
        config: { run: 'write' },
      },
      async (req, reply) => {
        const id = runOf(req).id;
        const run = action === 'cancel' ? await runs.cancel(id) : await runs.relaunch(id);
        return reply.code(action === 'cancel' ? 200 : 201).send(await runDetail(app, run));
      },
    );

  await app.register(async (plain) => {
    rawBody(plain);
    const scoped = plain.withTypeProvider<JsonSchemaToTsProvider>();
    const traceBody = {
      consumes: TEXT_BODY,
      body: {
        type: 'string',
        pattern: TRACE_BODY_PATTERN,
        description: 'a Nextflow trace file (any fields, normal or raw mode, TAB or comma separated)',
      },
    };
    const tzQuery = {
      type: 'object',
      properties: {
        tz: timeZoneParam,
        name: { type: 'string', maxLength: 200 },
      },
    } as const;
    const streamOf = (req: FastifyRequest): AsyncIterable<Uint8Array | string> => {
      const b = req.body as unknown;
      if (b && typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') return b as AsyncIterable<Uint8Array>;
      throw new DomainError('unsupported_media', `send the trace as one of ${TEXT_BODY.join(', ')}`, { field: 'body' });
    };
    scoped.post(
      '/runs/:id/trace',
      {
        schema: {
          tags: ['runs'],
          summary: 'Import a trace file into a run (idempotent; all rows or none)',
          params: idParam,
          querystring: tzQuery,
          ...traceBody,
          response: { 200: { type: 'object', required: ['rows'], properties: { rows: { type: 'integer' } } }, ...ErrorResponses },
        },
        validatorCompiler: streamBodyCompiler,
        config: { run: 'write' },
      },
      async (req) => {
        return runs.importTrace(runOf(req).id, streamOf(req), req.query.tz);
      },
    );
    scoped.post(
      '/runs/trace',
      {
        schema: {
          tags: ['runs'],
          summary: 'Create a run from a trace file (a run the platform never saw)',
          querystring: tzQuery,
          ...traceBody,
          response: {
            201: { type: 'object', required: ['run', 'rows'], properties: { run: RunSummary, rows: { type: 'integer' } } },
            ...ErrorResponses,
          },
        },
        validatorCompiler: streamBodyCompiler,
        config: { access: 'write' },
      },
      async (req, reply) => {
        const q = req.query;
        const owner = ownerOf(req.principal);
        return reply
          .code(201)
          .send(await runs.createFromTrace(streamOf(req), { name: q.name, timeZone: q.tz, owner, project: projectOf(req.principal) }));
      },
    );
  });

  app.get(
    '/runs/:id/processes',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Task counts per process',
        params: idParam,
        response: {
          200: {
            type: 'object',
            required: ['items'],
            properties: {
              items: {
                type: 'array',
                items: { type: 'object', required: ['process', 'counts'], properties: { process: { type: 'string' }, counts: Progress } },
              },
            },
          },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req) => {
      return { items: await processProgress(repos.tasks, runOf(req).id) };
    },
  );

  // A filter value the server takes, by the column's kind: numbers and dates are compared as such, `like:` as text.
  const opPrefix = `(?:(?:${OPS.filter((o) => o !== 'like').join('|')}):)?`;
  const filterPattern: Record<string, string | undefined> = {
    int: `^${opPrefix}-?\\d+(?:\\.\\d+)?$|^like:`,
    date: `^${opPrefix}${DATE_RE}(?:[T ](?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d{1,6})?)?(?:Z|[+-](?:0\\d|1[0-5]):[0-5]\\d)?)?$|^like:`,
  };
  const taskPages = new TaskPages(repos.tasks);
  const taskFilterProps = Object.fromEntries(
    TASK_COLUMNS.map((c) => {
      const kind = c === 'status' ? 'str' : c === 'task_id' || c === 'attempt' ? 'int' : TASK_FIELDS.find((f) => f.column === c)!.kind;
      const pattern = filterPattern[kind === 'str' ? 'str' : kind === 'date' ? 'date' : 'int'];
      const value = pattern ? { type: 'string', pattern } : { type: 'string' };
      return [
        c,
        {
          anyOf: [value, { type: 'array', items: value }],
          description: `filter: value, or op:value with op one of ${OPS.join(', ')}; repeat for AND`,
        },
      ];
    }),
  );
  app.get(
    '/runs/:id/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Tasks of a run: paging, sorting and filtering on every column; format=csv exports all matching rows',
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            offset: { ...int32, default: 0 },
            cursor: { type: 'string', maxLength: 2000, description: "keyset paging: a page's nextCursor (instead of offset)" },
            sort: { type: 'string', enum: TASK_COLUMNS, default: 'task_id' },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
            format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
            ...taskFilterProps,
          },
        },
        description:
          'A page of a run that has ended carries an ETag (it changes when the tasks do, e.g. a trace re-import); ' +
          '`If-None-Match` with it answers 304.',
        response: {
          200: {
            description: 'a page of tasks, or every matching task as CSV',
            content: { 'application/json': { schema: TaskList }, 'text/csv': { schema: { type: 'string' } } },
          },
          304: { description: 'not modified (If-None-Match matched the ETag)' },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const q = req.query as Record<string, unknown>;
      const tq = taskQuery(q);
      if (q.format === 'csv') {
        const pages = repos.tasks.pages(run.id, tq, CSV_PAGE_ROWS);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="tasks-${run.id}.csv"`)
          .send(csvStream([...TASK_COLUMNS, 'extra'], pages));
      }
      const page = await taskPages.page(run, tq, req.headers['if-none-match']);
      if (page.etag) reply.header('etag', page.etag).header('cache-control', 'no-cache');
      if (page.body === null) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(page.body);
    },
  );
};
