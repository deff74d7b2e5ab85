// API tokens (mint with a project and scopes, list, revoke) and projects: operator (admin) routes.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { BOOTSTRAP_TOKEN_ID, DEFAULT_PROJECT, projectOf, SCOPES, type Scope } from '../../domain/auth.js';
import { DEFAULT_SCOPES, PROJECT_ID_PATTERN } from '../../domain/tokens.js';
import { ErrorResponses, nullable } from '../schemas.js';

const ScopeList = { type: 'array', items: { type: 'string', enum: SCOPES }, uniqueItems: true, minItems: 1 } as const;

const TokenRecord = {
  type: 'object',
  required: ['id', 'name', 'project', 'scopes', 'admin', 'createdAt', 'revokedAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    project: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string', enum: SCOPES } },
    admin: { type: 'boolean', description: 'holds the admin scope (every scope, every project)' },
    createdAt: { type: 'string', format: 'date-time' },
    revokedAt: nullable('string', { format: 'date-time' }),
  },
} as const;

const Project = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
} as const;

const withAdmin = <T extends { scopes: readonly Scope[] }>(t: T) => ({ ...t, admin: t.scopes.includes('admin') });

export const tokenRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { tokens } = app.services;

  app.post(
    '/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an API token (admin) in a project with scopes; the secret is shown once',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            project: { type: 'string', pattern: PROJECT_ID_PATTERN, description: "the token's project (default: the caller's)" },
            scopes: { ...ScopeList, description: `default: ${DEFAULT_SCOPES.join(', ')}` },
            admin: { type: 'boolean', default: false, description: 'shorthand for scopes [admin]' },
          },
        },
        response: {
          201: {
            ...TokenRecord,
            required: [...TokenRecord.required, 'token'],
            properties: { ...TokenRecord.properties, token: { type: 'string' } },
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      const b = req.body;
      const scopes: Scope[] = [...(b.scopes ?? (b.admin ? [] : DEFAULT_SCOPES)), ...(b.admin ? (['admin'] as const) : [])];
      const t = await tokens.mint({ name: b.name, project: b.project ?? projectOf(req.principal), scopes });
      return reply.code(201).send(withAdmin(t));
    },
  );

  app.get(
    '/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'List API tokens (admin), newest first; never their secrets',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { project: { type: 'string', pattern: PROJECT_ID_PATTERN } },
        },
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: TokenRecord } } },
          ...ErrorResponses,
        },
      },
      config: { access: 'admin' },
    },
    async (req) => ({ items: (await tokens.list(req.query.project)).map(withAdmin) }),
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke an API token (admin): it stops working at once',
        description: `The id of a listed token, or \`${BOOTSTRAP_TOKEN_ID}\` (what GET /session names the configured SCRNA_ADMIN_TOKEN), which is refused with 409: it is configuration, not a stored token.`,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } },
        response: { 204: { type: 'null' }, ...ErrorResponses },
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await tokens.revoke(req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/projects',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a project (admin); its tokens reach only its runs',
        body: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', pattern: PROJECT_ID_PATTERN }, name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 201: Project, ...ErrorResponses },
      },
      config: { access: 'admin' },
    },
    async (req, reply) => reply.code(201).send(await tokens.createProject({ id: req.body.id, name: req.body.name ?? req.body.id })),
  );

  app.get(
    '/projects',
    {
      schema: {
        tags: ['auth'],
        summary: `List projects (admin); every install has '${DEFAULT_PROJECT}'`,
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Project } } },
          ...ErrorResponses,
        },
      },
      config: { access: 'admin' },
    },
    async () => ({ items: await tokens.listProjects() }),
  );
};
