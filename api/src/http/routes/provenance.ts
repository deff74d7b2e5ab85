// A run's provenance (software versions, Nextflow, git revision, containers, params) and the steps its data could
// not support as asked, from the manifest its results were ingested from.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { DomainError } from '../../domain/errors.js';
import { provenanceOf } from '../../domain/provenance.js';
import { runOf } from '../access.js';
import { ErrorResponses, idParam } from '../schemas.js';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const text = { type: ['string', 'null'] } as const;

export const Provenance = {
  type: 'object',
  additionalProperties: false,
  required: ['schemaVersion', 'nextflowVersion', 'pipeline', 'containerEngine', 'containers', 'software', 'params', 'skipped'],
  properties: {
    schemaVersion: { type: 'string', description: "the manifest's schema version (1.0 manifests carry no software versions)" },
    nextflowVersion: text,
    pipeline: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version', 'commit', 'revision', 'dirty'],
      properties: {
        name: text,
        version: text,
        commit: { type: ['string', 'null'], description: 'git commit the pipeline ran from; null when unknown' },
        revision: text,
        dirty: { type: ['boolean', 'null'], description: 'the checkout had uncommitted changes' },
      },
    },
    containerEngine: text,
    containers: { ...stringMap, description: 'process -> container image (empty when nothing ran in a container)' },
    software: { type: 'object', additionalProperties: stringMap, description: 'process (and Workflow) -> tool -> version' },
    params: { type: 'object', additionalProperties: true },
    skipped: {
      type: 'array',
      description: 'steps the data could not support as asked: skipped, a parameter clamped, or a fallback used',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sample', 'step', 'action', 'reason'],
        properties: {
          sample: { type: ['string', 'null'], description: 'null for a run-level step' },
          step: { type: 'string' },
          action: { type: 'string', enum: ['skipped', 'clamped', 'fallback'] },
          reason: { type: 'string' },
        },
      },
    },
  },
} as const;

export const provenanceRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  app.get(
    '/runs/:id/provenance',
    {
      schema: {
        tags: ['results'],
        summary: 'What made the results (tool versions, Nextflow, git revision, containers, params) and the steps skipped or clamped',
        params: idParam,
        response: { 200: Provenance, ...ErrorResponses },
      },
      config: { run: 'read' },
    },
    async (req) => {
      const manifest = await app.services.repos.results.manifest(runOf(req).id);
      if (!manifest) throw new DomainError('conflict', 'the run has no results manifest yet (its results are not ingested)');
      return provenanceOf(manifest);
    },
  );
};
