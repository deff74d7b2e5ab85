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
import type { EventAccess } from '../domain/event-access.js';
import type { EventIngester } from '../domain/event-ingester.js';
import type { ExpressionService } from '../domain/expression.js';
import type { IdempotencyService } from '../domain/idempotency.js';
import type { RunNotifier } from '../domain/notifier.js';
import type { OutputService } from '../domain/outputs.js';
import type { LogSource } from '../domain/ports.js';
import type { Repositories } from '../domain/repositories.js';
import type { ResultsService } from '../domain/results.js';
import type { RunService } from '../domain/runs.js';
import type { TokenService } from '../domain/tokens.js';
import type { LaunchValidator } from '../domain/validation.js';
import type { WebhookService } from '../domain/webhooks.js';
import { installAccess } from './access.js';
import { classifyError, errorReply } from './errors.js';
import { installJsonParser } from './json-body.js';
import { DEFAULT_BODY_LIMIT } from './limits.js';
import { collectMethods } from './method-not-allowed.js';
import { API_PREFIX, WES_PREFIX } from './prefixes.js';
import { installRouteSecurity } from './route-security.js';
import { eventRoutes } from './routes/events.js';
import { expressionRoutes } from './routes/expression.js';
import { miscRoutes } from './routes/misc.js';
import { outputRoutes } from './routes/outputs.js';
import { provenanceRoutes } from './routes/provenance.js';
import { resultRoutes } from './routes/results.js';
import { runRoutes } from './routes/runs.js';
import { sessionRoutes } from './routes/session.js';
import { timelineRoutes } from './routes/timeline.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';
import { wesRoutes } from './routes/wes/index.js';
import { ErrorBody } from './schemas.js';
import { buildValidator } from './validator-compiler.js';

export interface Services {
  repos: Repositories;
  runs: RunService;
  results: ResultsService;
  outputs: OutputService;
  webhooks: WebhookService;
  expression: ExpressionService;
  ingester: EventIngester;
  auth: Authenticator;
  tokens: TokenService;
  idempotency: IdempotencyService;
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

export async function buildApp(services: Services, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Routes with larger legitimate bodies (events) raise it; over the limit is a 413 while the body streams in.
    bodyLimit: DEFAULT_BODY_LIMIT,
    schemaController: { compilersFactory: { buildValidator } },
    forceCloseConnections: true,
    return503OnClosing: true,
    // A path parameter longer than this is a 414 before validation; the URL itself is bounded by Node's header limit.
    routerOptions: { maxParamLength: 4096 },
  });
  app.decorate('services', services);
  app.decorate('responseViolations', [] as ResponseViolation[]);
  app.addSchema(ErrorBody);
  installJsonParser(app);
  installRouteSecurity(app);
  const answerUndeclaredMethods = collectMethods(app);

  if (opts.checkResponses) installResponseChecks(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
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

  app.setErrorHandler((err: Error, req, reply) => {
    const e = classifyError(err);
    if (e.status >= 500 && e.status !== 503) req.log.error({ err }, 'request failed');
    return errorReply(reply, e.status, e.message, e.detail);
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
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true }, config: { access: 'open' } }, async () => app.swagger());

  for (const routes of [
    runRoutes,
    eventRoutes,
    resultRoutes,
    provenanceRoutes,
    outputRoutes,
    expressionRoutes,
    miscRoutes,
    sessionRoutes,
    tokenRoutes,
    webhookRoutes,
    timelineRoutes,
  ])
    await app.register(routes, { prefix: API_PREFIX });
  await app.register(wesRoutes, { prefix: WES_PREFIX });
  // After every route: a method a path does not declare is a 405 with Allow, not a 404.
  answerUndeclaredMethods();

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
    if (!url || url.startsWith('/docs') || url === `${API_PREFIX}/openapi.json`) return payload;
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
