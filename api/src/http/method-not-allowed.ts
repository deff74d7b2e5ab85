// 405 Method Not Allowed, with the Allow header, for a method a path does not declare (instead of Fastify's 404).
// Every route registered before `register` is called is covered; the extra routes sit on the same paths, so Fastify's
// own router decides what "the same path" is (parameters, wildcards, static segments winning over parameters).
import type { FastifyInstance } from 'fastify';
import { errorReply } from './errors.js';

/**
 * Collects the declared methods of every path; call the returned function once all routes are registered (a route
 * added later on a covered path would collide with its 405 route, and Fastify refuses to start).
 */
export function collectMethods(app: FastifyInstance): () => void {
  const declared = new Map<string, Set<string>>();
  let done = false;
  app.addHook('onRoute', (r) => {
    // Every path of the API (/api/, /ga4gh/, health), not Swagger UI's files.
    if (done || r.url.startsWith('/docs')) return;
    const methods = declared.get(r.url) ?? new Set<string>();
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) methods.add(m);
    // Fastify answers HEAD on every GET route by itself.
    if (methods.has('GET')) methods.add('HEAD');
    declared.set(r.url, methods);
  });
  return () => {
    done = true;
    for (const [url, methods] of declared) {
      const allow = [...methods].sort().join(', ');
      const others = app.supportedMethods.filter((m) => !methods.has(m));
      if (!others.length) continue;
      app.route({
        method: others,
        url,
        schema: { hide: true, response: { 405: { $ref: 'Error#' } } },
        config: { access: 'open' },
        // In onRequest, before Fastify parses (or insists on) a body for methods that carry one.
        onRequest: async (req, reply) => {
          reply.header('allow', allow);
          return errorReply(reply, 405, `${req.method} is not allowed on ${url}; allowed: ${allow}`, { field: 'method' });
        },
        handler: async () => undefined,
      });
    }
  };
}
