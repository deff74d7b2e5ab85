// Results: manifest ingest, per-sample QC, integration metrics, per-cell data (Arrow), barcode ranks, and logs.

import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { LogRef, Run } from '../../domain/ports.js';
import { TERMINAL } from '../../domain/ports.js';
import { runOf } from '../access.js';
import { columnsToArrowStream } from '../arrow.js';
import { FOLLOW_BUFFER_LIMIT, FOLLOW_STALL_MS } from '../limits.js';
import { ErrorResponses, idParam, int32, Sample, sseStream } from '../schemas.js';

const ARROW = 'application/vnd.apache.arrow.stream';
/** A log position: bytes (or CloudWatch events) from the start. */
const offset = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const TASK_DONE = new Set(['COMPLETED', 'FAILED', 'ABORTED', 'CACHED']);
const arrowResponse = (description: string) => ({
  200: { description, content: { [ARROW]: { schema: { type: 'string', format: 'binary' } } } },
  ...ErrorResponses,
});
const sseOrText = (description: string) => ({
  200: {
    description,
    content: {
      'text/plain': { schema: { type: 'string' } },
      ...sseStream([
        { event: 'log', data: { type: 'object', required: ['text', 'offset'], properties: { text: { type: 'string' }, offset: offset } } },
        { event: 'end', data: { type: 'object', required: ['offset'], properties: { offset: offset } } },
      ]),
    },
  },
  ...ErrorResponses,
});

/**
 * Waits until `raw` has flushed its buffer; false if the client went away or stayed behind for FOLLOW_STALL_MS.
 * 'drain' fires once the buffer is empty after a write returned false, which is the case whenever we are over the limit.
 */
function drained(raw: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      raw.off('drain', onDrain);
      raw.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    const timer = setTimeout(() => finish(false), FOLLOW_STALL_MS);
    raw.on('drain', onDrain);
    raw.on('close', onClose);
  });
}

/**
 * Server-sent events of a log as it grows, until the run (or task) has ended and nothing new arrives. At most
 * FOLLOW_BUFFER_LIMIT unsent bytes (plus one chunk) are held per follower: over it, the next chunk is read only after
 * the socket drains, and a follower that does not drain within FOLLOW_STALL_MS is dropped.
 */
async function followLog(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  ref: () => Promise<{ ref: LogRef; done: boolean }>,
) {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Headers go out now, not with the first chunk: a log that is still empty must not look like a server that hangs.
  raw.write(': following\n\n');
  let closed = false;
  raw.on('close', () => {
    closed = true;
  });
  let offset = Number((req.query as { offset?: number }).offset ?? 0);
  let idle = 0;
  try {
    while (!closed) {
      if (raw.writableLength > FOLLOW_BUFFER_LIMIT && !(await drained(raw))) {
        if (!closed) req.log.info({ offset, unsent: raw.writableLength }, 'log follower dropped: not reading');
        // destroy, not end: end() would keep the unsent buffer until the client reads it.
        raw.destroy();
        return;
      }
      const { ref: r, done } = await ref();
      const chunk = await app.services.logs.read(r, offset);
      if (chunk.text) {
        offset = chunk.offset;
        raw.write(`event: log\ndata: ${JSON.stringify({ text: chunk.text, offset })}\n\n`);
        idle = 0;
        continue;
      }
      if (done) break;
      if (++idle % 30 === 0) raw.write(': keep-alive\n\n');
      await sleep(500);
    }
    if (!closed) raw.write(`event: end\ndata: ${JSON.stringify({ offset })}\n\n`);
  } finally {
    raw.end();
  }
}

export const resultRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { repos, results } = app.services;

  app.post(
    '/runs/:id/results',
    {
      schema: {
        tags: ['results'],
        summary: "Ingest the run's results from <outdir>/manifest.json (checksums verified; replaces earlier ingests)",
        params: idParam,
        response: {
          200: {
            type: 'object',
            required: ['samples', 'cells', 'outputs'],
            properties: { samples: { type: 'integer' }, cells: { type: 'integer' }, outputs: { type: 'integer' } },
          },
          ...ErrorResponses,
        },
      },
      config: { run: 'write' },
    },
    async (req) => {
      const r = await results.ingest(runOf(req).id);
      // Open pages of the run reload their results.
      app.services.notifier.changed(runOf(req).id);
      return r;
    },
  );

  app.get(
    '/runs/:id/samples',
    {
      schema: {
        tags: ['results'],
        summary: 'Per-sample registration facts, count metrics and QC thresholds',
        params: idParam,
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Sample } } },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req) => ({ items: await repos.results.samples(runOf(req).id) }),
  );

  app.get(
    '/runs/:id/integration',
    {
      schema: {
        tags: ['results'],
        summary: 'Integration metrics (iLISI, cLISI, ARI, NMI before/after), cells, genes and clusters',
        params: idParam,
        response: { 200: { type: 'object', additionalProperties: true }, ...ErrorResponses },
      },
      config: { run: 'read' },
    },
    async (req) => {
      const run = runOf(req);
      const integration = await repos.results.integration(run.id);
      // The run exists; its results do not yet: a state of the run (409), not a missing resource.
      if (!integration) throw new DomainError('conflict', 'no integration results for this run (not ingested yet?)');
      return integration;
    },
  );

  app.get(
    '/runs/:id/cells',
    {
      schema: {
        tags: ['results'],
        summary: 'Per-cell data as an Arrow IPC stream, only the selected columns',
        params: idParam,
        querystring: {
          type: 'object',
          properties: { columns: { type: 'string', description: 'comma-separated, e.g. umap_x,umap_y,leiden; default all' } },
        },
        response: arrowResponse('Arrow IPC stream, one row per cell kept after QC'),
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const available = await repos.results.cellColumnNames(run.id);
      const asked = req.query.columns;
      const columns = asked
        ? [
            ...new Set(
              asked
                .split(',')
                .map((c) => c.trim())
                .filter(Boolean),
            ),
          ]
        : null;
      for (const c of columns ?? [])
        if (!available.includes(c))
          throw new DomainError('invalid', `unknown column '${c}' (have ${available.join(', ')})`, { field: 'columns' });
      const cols = await repos.results.cells(run.id, columns);
      if (!cols) throw new DomainError('conflict', 'no per-cell data for this run (not ingested yet?)');
      return reply.type(ARROW).send(Buffer.from(columnsToArrowStream(cols)));
    },
  );

  app.get(
    '/runs/:id/barcode-ranks',
    {
      schema: {
        tags: ['results'],
        summary: 'Barcode rank curves (sample, rank, umi_count, is_cell) as an Arrow IPC stream',
        params: idParam,
        response: arrowResponse('Arrow IPC stream'),
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const r = await repos.results.barcodeRanks(run.id);
      if (!r.rank.length) throw new DomainError('conflict', 'no barcode ranks for this run (not ingested yet?)');
      return reply.type(ARROW).send(Buffer.from(columnsToArrowStream(r)));
    },
  );

  const logProperties = {
    follow: { type: 'boolean', default: false, description: 'server-sent events until the run ends' },
    offset: { ...offset, default: 0, description: 'byte offset to start from' },
  } as const;

  app.get(
    '/runs/:id/log',
    {
      schema: {
        tags: ['logs'],
        summary: "The run's .nextflow.log (text, or SSE with follow=true)",
        params: idParam,
        querystring: { type: 'object', properties: logProperties },
        response: sseOrText('log text'),
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const q = req.query;
      if (q.follow)
        return followLog(app, req, reply, async () => {
          const r = (await repos.runs.get(run.id)) as Run;
          return { ref: { kind: 'run', run: r }, done: TERMINAL.has(r.status) };
        });
      const chunk = await app.services.logs.read({ kind: 'run', run }, q.offset ?? 0);
      // A run the platform launches writes its log once Nextflow starts (409 until then); other runs never have one here.
      if (!chunk.exists)
        throw run.source === 'platform'
          ? new DomainError('conflict', 'the run has written no log yet')
          : new DomainError('not_found', 'no log for this run (only runs the platform launched have one)');
      return reply.type('text/plain; charset=utf-8').header('x-log-offset', String(chunk.offset)).send(chunk.text);
    },
  );

  app.get(
    '/runs/:id/tasks/:taskId/log',
    {
      schema: {
        tags: ['logs'],
        summary: "A task's .command.out or .command.err (text, or SSE with follow=true)",
        params: {
          type: 'object',
          required: ['id', 'taskId'],
          properties: { id: { type: 'string', format: 'uuid' }, taskId: int32 },
        },
        querystring: {
          type: 'object',
          properties: { ...logProperties, stream: { type: 'string', enum: ['out', 'err'], default: 'out' } },
        },
        response: sseOrText('task output'),
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const { taskId } = req.params;
      const q = req.query;
      const stream = q.stream ?? 'out';
      const task = await repos.tasks.get(run.id, taskId);
      if (!task) throw new DomainError('not_found', 'task not found', { field: 'taskId' });
      if (q.follow)
        return followLog(app, req, reply, async () => {
          const t = (await repos.tasks.get(run.id, taskId))!;
          const r = (await repos.runs.get(run.id))!;
          return { ref: { kind: 'task', run: r, task: t, stream }, done: TASK_DONE.has(String(t.status)) || TERMINAL.has(r.status) };
        });
      const chunk = await app.services.logs.read({ kind: 'task', run, task, stream }, q.offset ?? 0);
      if (!chunk.exists)
        throw new DomainError('not_found', `no .command.${stream} for this task (not started, or its work directory is gone)`);
      return reply.type('text/plain; charset=utf-8').header('x-log-offset', String(chunk.offset)).send(chunk.text);
    },
  );
};
