// Each operation's `security` in the OpenAPI document, derived from the access its route declares (access.ts) and
// from this install's configuration, so the document says which credentials the server really asks for: `{}` in
// the list means "no token is needed here".
import type { FastifyInstance } from 'fastify';
import type { Access } from './access.js';

const BEARER = { bearer: [] };
const ANONYMOUS = {};

export function securityOf(access: Access, requireAuth: boolean, adminConfigured: boolean): object[] {
  switch (access) {
    case 'open':
      return [];
    case 'events':
      return [BEARER, { basic: [] }];
    case 'admin':
      return !requireAuth && !adminConfigured ? [BEARER, ANONYMOUS] : [BEARER];
    default:
      return requireAuth ? [BEARER] : [BEARER, ANONYMOUS];
  }
}

/** Fills in `schema.security` of every route that does not state its own. */
export function installRouteSecurity(app: FastifyInstance) {
  const { requireAuth, adminConfigured } = app.services;
  app.addHook('onRoute', (r) => {
    if (!r.schema || r.schema.hide) return;
    const schema = r.schema as { security?: object[] };
    schema.security ??= securityOf((r.config as { access?: Access } | undefined)?.access ?? 'read', requireAuth, adminConfigured);
  });
}
