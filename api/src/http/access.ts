// Authentication and authorisation as hooks, declared per route with `config: { access, run }`:
//   open   - no token ever (health, the OpenAPI document, the UI)
//   read   - a token when auth is required
//   write  - an API token when auth is required (launch, uploads, trace imports)
//   events - always a token: a per-run token or an API token
//   admin  - an admin API token (except on a local install with no admin token configured and auth not required,
//            which is single-user: anyone there may mint tokens)
// and, on routes under /runs/:id, `run: 'read' | 'write'`: the run is loaded once and must be the caller's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mayAccessRun, type Principal, type RunAccess } from '../domain/auth.js';
import { DomainError } from '../domain/errors.js';
import type { Run } from '../domain/ports.js';

export type Access = 'open' | 'read' | 'write' | 'events' | 'admin';

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

export function installAccess(app: FastifyInstance) {
  const { auth, repos, requireAuth, adminConfigured } = app.services;
  app.decorateRequest('principal', null);
  app.decorateRequest('run', null);

  app.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url;
    // Unmatched URLs (404s, the UI's files and SPA fallback) and Swagger UI carry no data; the API and GA4GH WES do.
    if (!url?.startsWith('/api/') && !url?.startsWith('/ga4gh/')) return;
    // Routes that forgot to declare their access are treated as reads: closed when auth is required.
    const access = req.routeOptions.config.access ?? 'read';
    if (access === 'open') return;
    const cookie = req.cookies[SESSION_COOKIE];
    const header = req.headers.authorization ?? (cookie ? `Bearer ${cookie}` : undefined);
    req.principal = await auth.authenticate(header);
    if (header !== undefined && !req.principal) throw new DomainError('unauthenticated', 'the Authorization header holds no valid token');
    const p = req.principal;
    if (access === 'events') {
      if (!p)
        throw new DomainError('unauthenticated', 'a per-run or API token is required (Authorization: Bearer <token> or Basic user:token)');
      return;
    }
    if (access === 'admin') {
      if (!requireAuth && !adminConfigured) return;
      if (!(p?.kind === 'api' && p.admin)) throw new DomainError(p ? 'forbidden' : 'unauthenticated', 'an admin token is required');
      return;
    }
    if (!requireAuth) return;
    if (!p) throw new DomainError('unauthenticated', NEED_TOKEN);
    if (access === 'write' && p.kind !== 'api')
      throw new DomainError('forbidden', 'a per-run token can only send events; use an API token');
  });

  app.addHook('preHandler', async (req) => {
    const scope = req.routeOptions.config.run;
    if (!scope) return;
    const id = (req.params as { id: string }).id;
    const run = await repos.runs.get(id);
    // Another owner's run answers exactly like a missing one, so run ids cannot be probed.
    if (!run || !mayAccessRun(req.principal, run, scope, requireAuth)) throw new DomainError('not_found', 'run not found', { field: 'id' });
    if (scope === 'write' && requireAuth && req.principal?.kind !== 'api') throw new DomainError('forbidden', NEED_TOKEN);
    req.run = run;
  });
}
