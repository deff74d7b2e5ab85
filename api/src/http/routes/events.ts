// POST /api/v1/events: nf-weblog JSON (one event or an array), answered 202 once durable in the event spool.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { ownerOf } from '../../domain/auth.js';
import { DomainError } from '../../domain/errors.js';
import type { IncomingEvent } from '../../domain/ports.js';
import { checkEvent, type WeblogEvent } from '../../domain/weblog.js';
import { EVENTS_BODY_LIMIT } from '../limits.js';
import { ErrorResponses, WeblogEventSchema } from '../schemas.js';

export const eventRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { eventAccess, ingester } = app.services;
  app.post(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Nextflow weblog events (nf-weblog or the nf-scrna plugin), one object or an array',
        description:
          'Authenticated by the per-run token or an API token (Bearer, or Basic user:token as nf-weblog sends it). ' +
          "Answers 202 once the events are durable in the API's write-ahead spool (requests arriving together share one " +
          'disk sync); they are written to the database behind the answer. Duplicates (same run, event, task and attempt) ' +
          'are ignored; 503 once the database is known to be out of reach, so the sender retries. ' +
          'A run not launched by the platform is created on its first event.',
        body: { anyOf: [WeblogEventSchema, { type: 'array', items: WeblogEventSchema, maxItems: 100_000 }] },
        response: {
          202: { type: 'object', required: ['accepted'], properties: { accepted: { type: 'integer' } } },
          ...ErrorResponses,
        },
      },
      // Checked by checkEvent below, which names the failing field with its array index; the array's maxItems is
      // enforced on the raw text by the JSON parser (json-body.ts) before anything is parsed.
      validatorCompiler: () => () => true,
      bodyLimit: EVENTS_BODY_LIMIT,
      config: { access: 'events' },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (!/json/i.test(req.headers['content-type'] ?? ''))
        throw new DomainError('unsupported_media', 'events are JSON: Content-Type: application/json', { field: 'content-type' });
      const body = req.body as unknown;
      const list = Array.isArray(body) ? body : [body];
      for (let i = 0; i < list.length; i++) {
        const err = checkEvent(list[i], Array.isArray(body) ? `[${i}]` : '');
        if (err) throw new DomainError('invalid', `${err.field}: ${err.message}`, { field: err.field });
      }
      const events = list as WeblogEvent[];
      await eventAccess.check(p, events, (i) => (Array.isArray(body) ? `[${i}]` : ''));
      const receivedAt = new Date();
      const tokenRunId = p.kind === 'run' ? p.runId : null;
      const owner = ownerOf(p);
      const admin = p.kind === 'api' && p.admin;
      const project = p.project;
      const incoming: IncomingEvent[] = events.map((event) => ({ event, tokenRunId, owner, project, admin, receivedAt }));
      await ingester.submit(incoming);
      return reply.code(202).send({ accepted: incoming.length });
    },
  );
};
