// Gene expression of a run's cells: its genes (prefix search for autocomplete), the marker genes of each cluster, and
// one gene's values for every cell in a compact binary form (domain/expression-codec.ts).
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { FromSchema } from 'json-schema-to-ts';
import { DomainError } from '../../domain/errors.js';
import { EXPRESSION_CONTENT_TYPE } from '../../domain/expression-codec.js';
import { runOf } from '../access.js';
import { ErrorResponses, idParam } from '../schemas.js';

// A function, as the Arrow routes' responses: the body is bytes, not the string the schema's JSON type would imply.
const encodedResponse = () => ({
  200: { description: 'the encoded values', content: { [EXPRESSION_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } } } },
  ...ErrorResponses,
});

const nullableNumber = { type: ['number', 'null'] } as const;

const Markers = {
  type: 'object',
  required: ['key', 'method', 'reason', 'clusters'],
  properties: {
    key: { type: 'string', description: 'the cells column whose clusters were compared (leiden: the default resolution)' },
    method: { type: 'string', description: 'scanpy rank_genes_groups method, each cluster against all other cells' },
    layer: { type: 'string' },
    reason: { type: ['string', 'null'], description: 'why nothing was ranked, else null' },
    clusters: {
      type: 'array',
      items: {
        type: 'object',
        required: ['cluster', 'n_cells', 'genes'],
        properties: {
          cluster: { type: 'string' },
          n_cells: { type: 'integer' },
          genes: {
            type: 'array',
            description: 'best first',
            items: {
              type: 'object',
              required: ['gene', 'score', 'logfoldchange', 'pval_adj'],
              properties: {
                gene: { type: 'string' },
                score: nullableNumber,
                logfoldchange: nullableNumber,
                pval_adj: nullableNumber,
                pct_in: { type: 'number', description: 'share of the cluster expressing it' },
                pct_out: { type: 'number', description: 'share of the other cells expressing it' },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const expressionRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { expression } = app.services;

  app.get(
    '/runs/:id/genes',
    {
      schema: {
        tags: ['results'],
        summary: "The run's genes whose name starts with prefix (any case), by name: autocomplete for the cell view",
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', maxLength: 200, default: '' },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'total'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['gene', 'cells'],
                  properties: { gene: { type: 'string' }, cells: { type: 'integer', description: 'cells expressing it' } },
                },
              },
              total: { type: 'integer', description: 'genes matching the prefix' },
            },
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'read', run: 'read' },
    },
    async (req) => expression.genes(runOf(req), req.query.prefix ?? '', req.query.limit ?? 20),
  );

  app.get(
    '/runs/:id/markers',
    {
      schema: {
        tags: ['results'],
        summary: 'Marker genes of each cluster (Wilcoxon on the log-normalised counts, each cluster against the rest)',
        params: idParam,
        response: { 200: Markers, ...ErrorResponses },
      },
      config: { access: 'read', run: 'read' },
    },
    // The manifest's markers were validated against the workflow's manifest schema at ingest.
    async (req) => (await expression.markers(runOf(req))) as FromSchema<typeof Markers>,
  );

  app.get(
    '/runs/:id/expression',
    {
      schema: {
        tags: ['results'],
        summary: "One gene's log-normalised expression in every cell, in the order of GET /runs/:id/cells",
        description:
          'Binary, little-endian: "SCX1", u32 cells, u32 expressing cells n, f32 scale; n bytes 1..255 (value = byte / 255 × scale); then n unsigned LEB128 varints, each the number of non-expressing cells before the next expressing one. At most 16 + 4 bytes per expressing cell below 2^21 cells.',
        params: idParam,
        // gene is checked in the handler, after the run: a caller without access to the run learns nothing but 404.
        querystring: { type: 'object', properties: { gene: { type: 'string', maxLength: 200, description: 'required' } } },
        response: encodedResponse(),
      },
      config: { access: 'read', run: 'read' },
    },
    async (req, reply) => {
      const gene = req.query.gene;
      if (!gene) throw new DomainError('invalid', 'gene is required', { field: 'gene' });
      const r = await expression.expression(runOf(req), gene);
      req.log.debug({ gene, expressing: r.expressing, read: r.read }, 'gene expression');
      return reply.type(EXPRESSION_CONTENT_TYPE).send(Buffer.from(r.body));
    },
  );
};
