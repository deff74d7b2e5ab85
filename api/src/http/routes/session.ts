// Browser sign-in: the UI trades an API token for an HttpOnly cookie, because EventSource (the live views) cannot
// send an Authorization header. SameSite=Strict keeps other sites from riding on it.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { DomainError } from '../../domain/errors.js';
import { SESSION_COOKIE } from '../access.js';
import { ErrorResponses } from '../schemas.js';

const Session = {
  type: 'object',
  required: ['tokenId', 'admin'],
  properties: { tokenId: { type: 'string' }, admin: { type: 'boolean' } },
};

export const sessionRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { auth } = app.services;
  app.post(
    '/session',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign a browser in with an API token (sets an HttpOnly cookie the UI and its live views send)',
        body: {
          type: 'object',
          required: ['token'],
          additionalProperties: false,
          properties: { token: { type: 'string', minLength: 1, maxLength: 512 } },
        },
        response: { 200: Session, ...ErrorResponses },
      },
      config: { access: 'open' },
    },
    async (req, reply) => {
      const { token } = req.body;
      const p = await auth.authenticate(`Bearer ${token}`);
      if (p?.kind !== 'api') throw new DomainError('unauthenticated', 'that is not an API token of this platform', { field: 'token' });
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.protocol === 'https',
        path: '/api/',
      });
      return { tokenId: p.tokenId, admin: p.admin };
    },
  );
  app.delete(
    '/session',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign the browser out (clears the cookie)',
        response: { 204: { type: 'null' }, ...ErrorResponses },
      },
      config: { access: 'open' },
    },
    async (_req, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/api/' }).code(204).send(null),
  );
};
