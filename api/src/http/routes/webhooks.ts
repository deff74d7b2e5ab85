// Webhook subscriptions of the caller's project, their delivery log, and redelivery. A subscription of another
// project answers 404 like a missing one.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { projectOf } from '../../domain/auth.js';
import { WEBHOOK_EVENTS } from '../../domain/webhooks.js';
import { ErrorResponses, idParam } from '../schemas.js';

const Webhook = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'project', 'url', 'events', 'description', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    project: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string', enum: WEBHOOK_EVENTS } },
    description: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const Delivery = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'messageId', 'webhookId', 'runId', 'eventType', 'payload', 'state', 'attempts', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    messageId: { type: 'string', description: 'the `webhook-id` header: the same on every attempt and redelivery' },
    webhookId: { type: 'string', format: 'uuid' },
    runId: { type: 'string', format: 'uuid' },
    eventType: { type: 'string' },
    payload: { type: 'object', additionalProperties: true, description: 'the signed body: {type, timestamp, data}' },
    state: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
    lastStatus: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
    deliveredAt: { type: ['string', 'null'], format: 'date-time' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const hookParams = idParam;
const deliveryParams = {
  type: 'object',
  required: ['id', 'deliveryId'],
  properties: { ...idParam.properties, deliveryId: { type: 'string', format: 'uuid' } },
} as const;

export const webhookRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { webhooks } = app.services;

  app.post(
    '/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: "Subscribe a URL to the project's run events; the signing secret is shown once",
        description:
          'Messages follow Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature` (v1, HMAC-SHA256 with the secret) headers over the raw JSON body. Targets on private, loopback or link-local addresses are refused unless the operator allows their network (SCRNA_WEBHOOK_ALLOW_NETWORKS).',
        body: {
          type: 'object',
          required: ['url', 'events'],
          additionalProperties: false,
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2048 },
            events: { type: 'array', minItems: 1, maxItems: WEBHOOK_EVENTS.length, items: { type: 'string', enum: WEBHOOK_EVENTS } },
            description: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          201: {
            ...Webhook,
            required: [...Webhook.required, 'secret'],
            properties: { ...Webhook.properties, secret: { type: 'string', description: 'whsec_…: kept by the receiver to verify' } },
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'write' },
    },
    async (req, reply) => {
      const by = req.principal?.kind === 'api' ? req.principal.tokenId : null;
      return reply.code(201).send(await webhooks.create(projectOf(req.principal), req.body, by));
    },
  );

  app.get(
    '/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The project's webhook subscriptions",
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Webhook } } },
          ...ErrorResponses,
        },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await webhooks.list(projectOf(req.principal)) }),
  );

  app.get(
    '/webhooks/:id',
    {
      schema: { tags: ['webhooks'], summary: 'One subscription', params: hookParams, response: { 200: Webhook, ...ErrorResponses } },
      config: { access: 'read' },
    },
    async (req) => webhooks.get(projectOf(req.principal), req.params.id),
  );

  app.delete(
    '/webhooks/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Unsubscribe (pending deliveries are dropped with it)',
        params: hookParams,
        response: { 204: { type: 'null' }, ...ErrorResponses },
      },
      config: { access: 'write' },
    },
    async (req, reply) => {
      await webhooks.delete(projectOf(req.principal), req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'The delivery log, newest first',
        params: hookParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Delivery } } },
          ...ErrorResponses,
        },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await webhooks.deliveries(projectOf(req.principal), req.params.id, req.query.limit ?? 50) }),
  );

  app.get(
    '/webhooks/:id/deliveries/:deliveryId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'One delivery with every attempt (time, HTTP status or error, duration)',
        params: deliveryParams,
        response: {
          200: {
            ...Delivery,
            required: [...Delivery.required, 'attemptLog'],
            properties: {
              ...Delivery.properties,
              attemptLog: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['at', 'status', 'error', 'durationMs'],
                  properties: {
                    at: { type: 'string', format: 'date-time' },
                    status: { type: ['integer', 'null'] },
                    error: { type: ['string', 'null'] },
                    durationMs: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'read' },
    },
    async (req) => webhooks.delivery(projectOf(req.principal), req.params.id, req.params.deliveryId),
  );

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivery again (same message id), ahead of the later deliveries of its run',
        params: deliveryParams,
        response: { 202: Delivery, ...ErrorResponses },
      },
      config: { access: 'write' },
    },
    async (req, reply) => reply.code(202).send(await webhooks.redeliver(projectOf(req.principal), req.params.id, req.params.deliveryId)),
  );
};
