// Pipeline schemas for forms, FASTQ upload registration, and the live run-change stream.

import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { visibleProject } from '../../domain/auth.js';
import { DomainError } from '../../domain/errors.js';
import { FOLLOW_BUFFER_LIMIT } from '../limits.js';
import { ErrorResponses, int32, sseStream } from '../schemas.js';

// bcl2fastq naming: <sample>_S<n>_L<lane>_<R1|R2|I1|I2>_001.fastq[.gz]
const FASTQ_NAME = /(?:^|\/)([^/]+?)_S\d+_L(\d{3})_([RI][12])_\d{3}\.f(?:ast)?q(?:\.gz)?$/;

export const miscRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { repos, notifier, validator } = app.services;

  app.get(
    '/schema/params',
    {
      schema: {
        tags: ['schema'],
        summary: "The pipeline's nextflow_schema.json",
        response: { 200: { type: 'object', additionalProperties: true }, ...ErrorResponses },
      },
      config: { access: 'read' },
    },
    async () => (await validator()).schemas.params,
  );
  app.get(
    '/schema/samplesheet',
    {
      schema: {
        tags: ['schema'],
        summary: 'The samplesheet JSON schema (assets/schema_input.json; input_type=matrix gives the matrix sheet)',
        querystring: { type: 'object', properties: { input_type: { type: 'string', enum: ['fastq', 'matrix'], default: 'fastq' } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...ErrorResponses },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const v = await validator();
      const t = req.query.input_type ?? 'fastq';
      const s = v.schemas.samplesheets[t];
      if (!s) throw new DomainError('not_found', `this pipeline has no ${t} samplesheet`, { field: 'input_type' });
      return s;
    },
  );

  app.post(
    '/uploads',
    {
      schema: {
        tags: ['uploads'],
        summary: 'Register an uploaded FASTQ (called by the S3 upload Lambda); sample, lane and read default from its bcl2fastq name',
        body: {
          type: 'object',
          required: ['uri'],
          additionalProperties: false,
          properties: {
            // 640 characters of up to 4 bytes stay under the ~2.7 kB a row of the unique index on uri may hold.
            uri: { type: 'string', minLength: 1, maxLength: 640, description: 's3://bucket/key or a local path' },
            size: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            sample: { type: 'string', maxLength: 200 },
            lane: { ...int32, minimum: 1 },
            read: { type: 'string', enum: ['R1', 'R2', 'I1', 'I2'] },
          },
        },
        response: {
          '2xx': {
            type: 'object',
            required: ['id', 'uri', 'created'],
            properties: {
              id: { type: 'string' },
              uri: { type: 'string' },
              sample: { type: ['string', 'null'] },
              lane: { type: ['integer', 'null'] },
              read: { type: ['string', 'null'] },
              created: { type: 'boolean' },
            },
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'write' },
    },
    async (req, reply) => {
      const b = req.body;
      const m = FASTQ_NAME.exec(b.uri);
      // The name is the only source of the lane when none is sent: bcl2fastq numbers lanes from 1.
      if (m && b.lane === undefined && Number(m[2]) < 1)
        throw new DomainError('invalid', `uri: lane ${m[2]} in the file name (lanes start at 1)`, { field: 'uri' });
      const rec = {
        id: randomUUID(),
        uri: b.uri,
        sample: b.sample ?? m?.[1] ?? null,
        lane: b.lane ?? (m ? Number(m[2]) : null),
        read: b.read ?? m?.[3] ?? null,
        size: b.size ?? null,
        sha256: b.sha256 ?? null,
      };
      const r = await repos.uploads.register(rec);
      return reply
        .code(r.created ? 201 : 200)
        .send({ id: r.id, uri: rec.uri, sample: rec.sample, lane: rec.lane, read: rec.read, created: r.created });
    },
  );

  app.get(
    '/stream/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Server-sent events: `runs` {ids} whenever runs change (for live lists)',
        response: {
          200: {
            description: 'event stream',
            content: sseStream([
              {
                event: 'runs',
                data: {
                  type: 'object',
                  required: ['ids'],
                  properties: { ids: { type: 'array', items: { type: 'string', format: 'uuid' } } },
                },
              },
            ]),
          },
          ...ErrorResponses,
        },
      },
      config: { access: 'read' },
    },
    async (req, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      raw.write(': connected\n\n');
      const p = req.principal;
      const send = (ids: string[]) => {
        // A listener that stopped reading is dropped rather than buffered for (its browser reconnects by itself).
        if (raw.writableLength > FOLLOW_BUFFER_LIMIT) return raw.destroy();
        if (ids.length) raw.write(`event: runs\ndata: ${JSON.stringify({ ids })}\n\n`);
      };
      // A non-admin token hears only of its project's runs (a per-run token of its one run).
      const project = visibleProject(p);
      const visible = async (ids: string[]) =>
        project === null ? ids : p?.kind === 'run' ? ids.filter((id) => id === p.runId) : repos.runs.idsInProject(ids, project);
      const unsubscribe = notifier.subscribe((ids) => {
        visible(ids).then(send, (err) => req.log.warn({ err }, 'run-change stream: project lookup failed'));
      });
      const ping = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      req.raw.on('close', () => {
        clearInterval(ping);
        unsubscribe();
        raw.end();
      });
    },
  );
};
