// Authentication and authorisation as hooks, declared per route with `config: { access, run }`:
//   open   - no token ever (health, the OpenAPI document, the UI)
//   read   - a token when auth is required; an API token needs `runs:read`
//   write  - an API token with `runs:write` when auth is required (launch, uploads, trace imports)
//   events - always a token: a per-run token, or an API token with `events:write`
//   admin  - an admin API token (except on a local install with no admin token configured and auth not required,
//            which is single-user: anyone there may mint tokens)
// (on every route under /api/ and /ga4gh/), and, on routes under /runs/:id (or :run_id), `run: 'read' | 'write'`: the run is loaded once and must be in the caller's project
// (a write needs `runs:write`). A token that is sent is always held to its scopes and project, even on an open install;
// an anonymous caller on an open install reaches everything, as a single-user laptop does. Every operation in the
// OpenAPI document carries the scope it needs as `x-scope`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasScope, mayAccessRun, type Principal, type RouteAccess, type RunAccess, requiredScope } from '../domain/auth.js';
import { DomainError } from '../domain/errors.js';
import type { Run } from '../domain/ports.js';

export type Access = RouteAccess;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    run?: RunAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
    run: Run | null;
  }
}

/** The cookie POST /session sets for a browser; read when a request has no Authorization header. */
export const SESSION_COOKIE = 'scrna_token';

const NEED_TOKEN = 'an API token is required (Authorization: Bearer <token>)';

/** The run a `run:`-scoped route works on, loaded and checked by the preHandler below. */
export function runOf(req: FastifyRequest): Run {
  if (!req.run) throw new Error(`route ${req.routeOptions.url} reads a run without declaring config.run`);
  return req.run;
}

/** The API's prefixes (native and GA4GH WES): their routes are guarded; everything else (the UI's files) is not. */
const GUARDED = ['/api/', '/ga4gh/'];
const guarded = (url: string | undefined): url is string => !!url && GUARDED.some((p) => url.startsWith(p));

/** Routes that forgot to declare their access are treated as reads: closed when auth is required. */
const accessOf = (config: { access?: Access }): Access => config.access ?? 'read';

export function installAccess(app: FastifyInstance) {
  const { auth, repos, requireAuth, adminConfigured } = app.services;
  app.decorateRequest('principal', null);
  app.decorateRequest('run', null);

  // The document says what each operation needs, from the same declaration the hooks enforce.
  app.addHook('onRoute', (r) => {
    if (!guarded(r.url) || !r.schema) return;
    const config = (r.config ?? {}) as { access?: Access; run?: RunAccess };
    (r.schema as Record<string, unknown>)['x-scope'] = requiredScope(accessOf(config), config.run) ?? 'none';
  });

  app.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url;
    // Unmatched URLs (404s, the UI's files and SPA fallback) and Swagger UI carry no data.
    if (!guarded(url)) return;
    const config = req.routeOptions.config;
    const access = accessOf(config);
    if (access === 'open') return;
    const cookie = req.cookies[SESSION_COOKIE];
    const header = req.headers.authorization ?? (cookie ? `Bearer ${cookie}` : undefined);
    req.principal = await auth.authenticate(header);
    if (header !== undefined && !req.principal) throw new DomainError('unauthenticated', 'the Authorization header holds no valid token');
    const p = req.principal;
    // Single-user: with no admin token configured and auth not required, anyone may mint tokens and projects.
    if (access === 'admin' && !requireAuth && !adminConfigured) return;
    const scope = requiredScope(access, config.run)!;
    if (!p) {
      if (access === 'events')
        throw new DomainError('unauthenticated', 'a per-run or API token is required (Authorization: Bearer <token> or Basic user:token)');
      if (access === 'admin') throw new DomainError('unauthenticated', 'an admin token is required');
      if (requireAuth) throw new DomainError('unauthenticated', NEED_TOKEN);
      return;
    }
    if (p.kind === 'run') {
      // Nextflow's token sends its run's events and reads that run; nothing else.
      if (access === 'events' || (scope === 'runs:read' && config.run === 'read')) return;
      throw new DomainError('forbidden', 'a per-run token can only send events and read its own run; use an API token');
    }
    if (!hasScope(p, scope)) throw new DomainError('forbidden', `this token lacks the scope ${scope}`, { field: 'authorization' });
  });

  app.addHook('preHandler', async (req) => {
    const scope = req.routeOptions.config.run;
    if (!scope) return;
    // `:id` on native routes, `:run_id` on WES routes.
    const params = req.params as { id?: string; run_id?: string };
    const id = params.id ?? params.run_id ?? '';
    const run = await repos.runs.get(id);
    // Another project's run answers exactly like a missing one, so run ids cannot be probed.
    if (!run || !mayAccessRun(req.principal, run, scope, requireAuth)) throw new DomainError('not_found', 'run not found', { field: 'id' });
    req.run = run;
  });
}
