// The Fastify application: OpenAPI (generated from the route schemas), error mapping (4xx with the field, never a
// 5xx for client input), optional response checking against the declared schemas, and the built UI at /.
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Authenticator } from '../domain/auth.js';
import { DomainError, isUnavailable } from '../domain/errors.js';
import type { EventAccess } from '../domain/event-access.js';
import type { EventIngester } from '../domain/event-ingester.js';
import type { RunNotifier } from '../domain/notifier.js';
import type { OutputService } from '../domain/outputs.js';
import type { LogSource } from '../domain/ports.js';
import type { Repositories } from '../domain/repositories.js';
import type { ResultsService } from '../domain/results.js';
import type { RunService } from '../domain/runs.js';
import type { LaunchValidator } from '../domain/validation.js';
import { installAccess } from './access.js';
import { errorReply, STATUS_OF } from './errors.js';
import { installJsonParser } from './json-body.js';
import { DEFAULT_BODY_LIMIT } from './limits.js';
import { eventRoutes } from './routes/events.js';
import { miscRoutes } from './routes/misc.js';
import { outputRoutes } from './routes/outputs.js';
import { provenanceRoutes } from './routes/provenance.js';
import { resultRoutes } from './routes/results.js';
import { runRoutes } from './routes/runs.js';
import { sessionRoutes } from './routes/session.js';
import { ErrorBody } from './schemas.js';

export interface Services {
  repos: Repositories;
  runs: RunService;
  results: ResultsService;
  outputs: OutputService;
  ingester: EventIngester;
  auth: Authenticator;
  eventAccess: EventAccess;
  logs: LogSource;
  notifier: RunNotifier;
  validator: () => Promise<LaunchValidator>;
  requireAuth: boolean;
  adminConfigured: boolean;
  uiBuildDir: string | null;
  version: string;
}

export interface AppOptions {
  logger?: boolean | object;
  /** Check every JSON response against its declared schema and record mismatches (tests). */
  checkResponses?: boolean;
}

export interface ResponseViolation {
  route: string;
  status: number;
  message: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    responseViolations: ResponseViolation[];
  }
}

const BODY_ERRORS = new Set(['FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_BODY_TOO_LARGE']);

function fieldOfValidation(err: {
  validation?: { instancePath: string; params: Record<string, unknown> }[];
  validationContext?: string;
}): string {
  const v = err.validation?.[0];
  if (!v) return err.validationContext ?? 'body';
  const at = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const missing = (v.params.missingProperty as string) ?? (v.params.additionalProperty as string) ?? '';
  return (
    [err.validationContext === 'body' ? '' : err.validationContext, at, missing].filter(Boolean).join('.') ||
    (err.validationContext ?? 'body')
  );
}

export async function buildApp(services: Services, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Routes with larger legitimate bodies (events) raise it; over the limit is a 413 while the body streams in.
    bodyLimit: DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: false }, plugins: [] },
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  app.decorate('services', services);
  app.decorate('responseViolations', [] as ResponseViolation[]);
  app.addSchema(ErrorBody);
  installJsonParser(app);

  if (opts.checkResponses) installResponseChecks(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'scrna-platform API',
        version: services.version,
        description:
          'System of record for single-cell RNA-seq runs: launch, live events (Nextflow weblog), trace import, results (QC, cells).',
      },
      // Every operation takes a token; whether one is required depends on SCRNA_REQUIRE_AUTH (see the README).
      security: [{ bearer: [] }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token, or the per-run token handed to Nextflow' },
          basic: { type: 'http', scheme: 'basic', description: 'user:token (nf-weblog weblog.basicToken)' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: never; validationContext?: string; code?: string }, req, reply) => {
    if (err instanceof DomainError) return errorReply(reply, STATUS_OF[err.kind], err.message, err.detail);
    // The database out of reach (a token lookup, a write): the client may retry, so 503 and not 500.
    if (isUnavailable(err)) return errorReply(reply, STATUS_OF.unavailable, 'the database is unavailable; retry shortly');
    if (err.validation) return errorReply(reply, 400, `${fieldOfValidation(err)}: ${err.message}`, { field: fieldOfValidation(err) });
    // A data exception from Postgres (class 22) can only come from a value the client sent.
    if (/^22/.test(err.code ?? '') && !err.statusCode) return errorReply(reply, 400, `invalid value: ${err.message}`);
    const code = err.statusCode ?? 500;
    if (code >= 400 && code < 500) return errorReply(reply, code, err.message, BODY_ERRORS.has(err.code ?? '') ? { field: 'body' } : {});
    req.log.error({ err }, 'request failed');
    return errorReply(reply, 500, 'internal error');
  });

  await app.register(fastifyCookie);
  installAccess(app);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await services.repos.ping();
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false });
    }
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true }, config: { access: 'open' } }, async () => app.swagger());

  for (const routes of [runRoutes, eventRoutes, resultRoutes, provenanceRoutes, outputRoutes, miscRoutes, sessionRoutes])
    await app.register(routes, { prefix: '/api/v1' });

  const ui = services.uiBuildDir;
  if (ui && existsSync(path.join(ui, 'index.html'))) {
    await app.register(fastifyStatic, { root: ui, prefix: '/', wildcard: false, index: ['index.html'] });
  }
  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0]!;
    if (req.method === 'GET' && ui && !url.startsWith('/api/') && existsSync(path.join(ui, 'index.html'))) {
      // SPA fallback: client-side routes load the app shell.
      return reply.type('text/html').sendFile('index.html', ui);
    }
    return errorReply(reply, 404, `no route ${req.method} ${url}`);
  });
  return app;
}

/** Fastify serialises responses with their schema but does not reject a mismatch: check them here (tests turn this on). */
function installResponseChecks(app: FastifyInstance) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addSchema(ErrorBody);
  const byRoute = new Map<string, Record<string, ValidateFunction | null>>();
  app.addHook('onRoute', (r) => {
    const response = (r.schema as { response?: Record<string, unknown> } | undefined)?.response;
    if (!response) return;
    const compiled: Record<string, ValidateFunction | null> = {};
    for (const [status, schema] of Object.entries(response)) {
      const s = schema as { content?: Record<string, { schema: object }>; format?: string };
      // Responses with a content map are checked for their JSON form; Arrow, CSV, SSE and text are not JSON.
      const json = s.content ? s.content['application/json']?.schema : s.format === 'binary' ? undefined : s;
      compiled[status.toLowerCase()] = json ? ajv.compile(json) : null;
    }
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) byRoute.set(`${m} ${r.url}`, compiled);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const url = req.routeOptions.url;
    if (!url || url.startsWith('/docs') || url === '/api/v1/openapi.json') return payload;
    const schemas = byRoute.get(`${req.method} ${url}`);
    const status = reply.statusCode;
    const key = `${req.method} ${url}`;
    if (!schemas) {
      if (url.startsWith('/api/')) app.responseViolations.push({ route: key, status, message: 'route declares no response schema' });
      return payload;
    }
    const declared = [String(status), `${String(status)[0]}xx`, 'default'].find((k) => k in schemas);
    const fn = declared === undefined ? undefined : schemas[declared];
    if (fn === undefined) {
      app.responseViolations.push({ route: key, status, message: `status ${status} is not declared` });
      return payload;
    }
    const ct = String(reply.getHeader('content-type') ?? '');
    if (fn === null || !ct.includes('json') || typeof payload !== 'string') return payload;
    if (!fn(JSON.parse(payload))) app.responseViolations.push({ route: key, status, message: ajv.errorsText(fn.errors) });
    return payload;
  });
}
