// GA4GH WES 1.1 under /ga4gh/wes/v1: service-info, runs (list, submit as multipart/form-data, log, status, cancel)
// and tasks. A WES run is a platform run: submitted through RunService, visible in the UI, CLI and native API.
// Access is the platform's (config.access / config.run); errors are WES ErrorResponses {msg, status_code}.
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyRequest } from 'fastify';
import { ownerOf, projectOf } from '../../../domain/auth.js';
import { DomainError } from '../../../domain/errors.js';
import { IDEMPOTENCY_HEADER, requestHash } from '../../../domain/idempotency.js';
import type { RunStatus as PlatformStatus } from '../../../domain/ports.js';
import {
  submitWes,
  WES_ENGINE,
  WES_ENGINE_PARAMETERS,
  WES_ENGINE_VERSIONS,
  WES_PIPELINE,
  WES_WORKFLOW_TYPE,
  WES_WORKFLOW_TYPE_VERSIONS,
} from '../../../domain/wes.js';
import { WES_STATE_OF, WES_STATES, type WesState } from '../../../domain/wes-states.js';
import { runOf } from '../../access.js';
import { classifyError, RETRY_AFTER_S } from '../../errors.js';
import { API_PREFIX, WES_PREFIX } from '../../prefixes.js';
import { IdempotencyKeyHeaders } from '../../schemas.js';
import { decodeCursor, encodeCursor, listScope, streamBodyCompiler } from '../runs.js';
import { parseRunForm, WES_FORM_LIMITS } from './request.js';
import { runLog, runStatus, runSummary, taskLog, type Urls } from './responses.js';
import { RunId, RunListResponse, RunLog, RunRequestForm, RunStatus, ServiceInfo, TaskListResponse, TaskLog, WesErrors } from './schemas.js';

const TAGS = ['WES'];
const runParam = { type: 'object', required: ['run_id'], properties: { run_id: { type: 'string', maxLength: 100 } } } as const;
const taskParam = {
  type: 'object',
  required: ['run_id', 'task_id'],
  properties: { ...runParam.properties, task_id: { type: 'string', maxLength: 20 } },
} as const;
const pageQuery = (max: number, dflt: number) =>
  ({
    type: 'object',
    properties: {
      page_size: { type: 'integer', minimum: 1, maximum: max, default: dflt },
      page_token: { type: 'string', maxLength: 200 },
    },
  }) as const;

/** A WES operation's schema: tagged WES, named as in the specification, answering ErrorResponses on failure. */
const op = <S extends { response: object }>(operationId: string, summary: string, s: S) => ({
  tags: TAGS,
  operationId,
  summary,
  ...s,
  response: { ...s.response, ...WesErrors },
});

const urlsOf = (req: FastifyRequest): Urls => ({ origin: `${req.protocol}://${req.host}`, wes: WES_PREFIX, api: API_PREFIX });

/** Task pages are keyset pages on task_id: the token is the last id a page held. */
const taskToken = (taskId: number) => Buffer.from(JSON.stringify([taskId])).toString('base64url');
function afterTask(token: string): number {
  try {
    const [id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Number.isSafeInteger(id)) return id;
  } catch {}
  throw new DomainError('invalid', 'page_token is not one this API returned', { field: 'page_token' });
}

export const wesRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { runs, repos, outputs, version } = app.services;
  // Attachment names as the client sent them (busboy would keep only the base name): toRunRequest refuses '..'.
  await app.register(fastifyMultipart, { limits: WES_FORM_LIMITS, preservePath: true });

  app.setErrorHandler((err: Error, req, reply) => {
    const e = classifyError(err);
    if (e.status >= 500 && e.status !== 503) req.log.error({ err }, 'request failed');
    if (e.status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
    return reply.code(e.status).type('application/json').send({ msg: e.message, status_code: e.status });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ msg: `no route ${req.method} ${req.url.split('?')[0]}`, status_code: 404 }),
  );
  // The access hooks load a run-scoped route's run from params.id; WES names it run_id.
  app.addHook('preValidation', async (req) => {
    const p = req.params as { run_id?: string; id?: string };
    if (p.run_id !== undefined) p.id = p.run_id;
  });

  app.get(
    '/service-info',
    {
      schema: op('GetServiceInfo', 'WES service-info', { response: { 200: ServiceInfo } }),
      config: { access: 'read' },
    },
    async (req) => {
      const counts = await repos.runs.countByStatus(listScope(req.principal));
      const system_state_counts = Object.fromEntries(WES_STATES.map((s) => [s, 0])) as Record<WesState, number>;
      for (const [status, n] of Object.entries(counts)) system_state_counts[WES_STATE_OF[status as PlatformStatus]] += n ?? 0;
      const { origin } = urlsOf(req);
      return {
        id: 'org.scrna-platform.wes',
        name: 'scrna-platform WES',
        description: 'GA4GH WES 1.1 front of the scrna-platform run API: runs its single-cell RNA-seq pipeline',
        type: { group: 'org.ga4gh', artifact: 'wes', version: '1.1.0' },
        organization: { name: 'scrna-platform', url: origin },
        documentationUrl: `${origin}/docs`,
        version,
        workflow_type_versions: { [WES_WORKFLOW_TYPE]: { workflow_type_version: WES_WORKFLOW_TYPE_VERSIONS } },
        supported_wes_versions: ['1.1.0'],
        supported_filesystem_protocols: ['file', 's3'],
        workflow_engine_versions: { [WES_ENGINE]: { workflow_engine_version: WES_ENGINE_VERSIONS } },
        default_workflow_engine_parameters: [...WES_ENGINE_PARAMETERS],
        system_state_counts,
        auth_instructions_url: `${origin}/docs`,
        tags: { workflow_url: WES_PIPELINE, workflow_engine_parameters: WES_ENGINE_PARAMETERS.map((p) => p.name).join(',') },
      };
    },
  );

  app.get(
    '/runs',
    {
      schema: op('ListRuns', 'Runs the caller may see, newest first (keyset pages)', {
        querystring: pageQuery(500, 50),
        response: { 200: RunListResponse },
      }),
      config: { access: 'read' },
    },
    async (req) => {
      const size = req.query.page_size ?? 50;
      const token = req.query.page_token;
      const { items } = await repos.runs.list({
        ...listScope(req.principal),
        limit: size + 1,
        cursor: token ? decodeCursor(token, 'page_token') : undefined,
      });
      const page = items.slice(0, size);
      return { runs: page.map(runSummary), next_page_token: items.length > size ? encodeCursor(page.at(-1)!) : '' };
    },
  );

  app.post(
    '/runs',
    {
      schema: op(
        'RunWorkflow',
        "Submit a run of this platform's pipeline (multipart/form-data); validated and launched like POST /api/v1/runs",
        {
          consumes: ['multipart/form-data'],
          headers: IdempotencyKeyHeaders,
          body: RunRequestForm,
          response: { 200: RunId },
        },
      ),
      validatorCompiler: streamBodyCompiler,
      config: { access: 'write' },
    },
    async (req, reply) => {
      const form = await parseRunForm(req);
      const project = projectOf(req.principal);
      const submit = async () => {
        const body = await submitWes(runs, form, ownerOf(req.principal), project);
        return { status: 200, body, runId: body.run_id };
      };
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (!key) return (await submit()).body;
      // The same key guards both submission routes of a project; the route is part of the request's hash.
      const r = await app.services.idempotency.once(project, key, requestHash('POST /ga4gh/wes/v1/runs', form), submit);
      if (r.replayed) reply.header('idempotent-replayed', 'true');
      return r.body as { run_id: string };
    },
  );

  app.get(
    '/runs/:run_id',
    {
      schema: op('GetRunLog', 'A run: its request, state, log, task log URL and the outputs its manifest lists', {
        params: runParam,
        response: { 200: RunLog },
      }),
      config: { run: 'read' },
    },
    async (req) => {
      const run = runOf(req);
      return runLog(urlsOf(req), run, await outputs.list(run));
    },
  );

  app.get(
    '/runs/:run_id/status',
    {
      schema: op('GetRunStatus', "A run's state", { params: runParam, response: { 200: RunStatus } }),
      config: { run: 'read' },
    },
    async (req) => runStatus(runOf(req)),
  );

  app.post(
    '/runs/:run_id/cancel',
    {
      schema: op('CancelRun', 'Cancel a run', { params: runParam, response: { 200: RunId } }),
      config: { run: 'write' },
    },
    async (req) => ({ run_id: (await runs.cancel(runOf(req).id)).id }),
  );

  app.get(
    '/runs/:run_id/tasks',
    {
      schema: op('ListTasks', "A run's tasks by task id (keyset pages)", {
        params: runParam,
        querystring: pageQuery(1000, 100),
        response: { 200: TaskListResponse },
      }),
      config: { run: 'read' },
    },
    async (req) => {
      const run = runOf(req);
      const size = req.query.page_size ?? 100;
      const token = req.query.page_token;
      const { items } = await repos.tasks.list(run.id, {
        limit: size + 1,
        offset: 0,
        sort: 'task_id',
        order: 'asc',
        filters: token ? [{ column: 'task_id', op: 'gt', value: String(afterTask(token)) }] : [],
      });
      const page = items.slice(0, size);
      const urls = urlsOf(req);
      return {
        task_logs: page.map((t) => taskLog(urls, run, t)),
        next_page_token: items.length > size ? taskToken(Number(page.at(-1)!.task_id)) : '',
      };
    },
  );

  app.get(
    '/runs/:run_id/tasks/:task_id',
    {
      schema: op('GetTask', "One task (its latest attempt) and its logs' URLs", {
        params: taskParam,
        response: { 200: TaskLog },
      }),
      config: { run: 'read' },
    },
    async (req) => {
      const run = runOf(req);
      const id = req.params.task_id;
      const task = /^\d{1,15}$/.test(id) ? await repos.tasks.get(run.id, Number(id)) : null;
      if (!task) throw new DomainError('not_found', 'task not found', { field: 'task_id' });
      return taskLog(urlsOf(req), run, task);
    },
  );
};
