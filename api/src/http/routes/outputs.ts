// A run's outputs: the manifest's list, and one file by its manifest path: streamed with its checksum as ETag and
// byte ranges (resumable downloads), or, when the result store presigns URLs (S3), a redirect to one.
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { runOf } from '../access.js';
import { errorReply } from '../errors.js';
import { ErrorResponses, idParam, Output } from '../schemas.js';
import { zipStream } from '../zip-stream.js';

const BINARY = { '*/*': { schema: { type: 'string', format: 'binary' } } } as const;

/** A download's Content-Disposition: the name as given (UTF-8) and a quoted ASCII-safe fallback. */
const attachment = (name: string) =>
  `attachment; filename="${name.replace(/["\\\r\n]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

/** Content types by file extension (the rest is application/octet-stream). */
const TYPES: Record<string, string> = {
  arrow: 'application/vnd.apache.arrow.file',
  parquet: 'application/vnd.apache.parquet',
  h5ad: 'application/x-hdf5',
  h5: 'application/x-hdf5',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  mtx: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  png: 'image/png',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  gz: 'application/gzip',
};

export const contentTypeOf = (p: string) => TYPES[p.slice(p.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream';

/**
 * The one range of a `Range: bytes=…` header within a file of `size` bytes: null to send the whole file (no header,
 * another unit, or several ranges, which a server may answer in full), 'unsatisfiable' when it lies outside the file.
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // A suffix: the last N bytes.
    const n = Number(m[2]);
    return n === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

export const outputRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { outputs } = app.services;

  app.get(
    '/runs/:id/outputs',
    {
      schema: {
        tags: ['results'],
        summary: "The outputs the run's manifest lists (path, kind, sample, size, sha256)",
        params: idParam,
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: Output } } },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req) => ({ items: await outputs.list(runOf(req)) }),
  );

  app.get(
    '/runs/:id/outputs.zip',
    {
      schema: {
        tags: ['results'],
        summary: "Every output of the run's manifest as one zip, streamed (entries stored under their manifest paths)",
        description:
          'Each file is checked against the manifest (present, same size) before the first byte, so a run whose files changed since ingest gets a 409 rather than a broken archive. Content-Length is the exact archive size.',
        params: idParam,
        response: {
          200: { description: 'the archive (application/zip)', content: BINARY },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const run = runOf(req);
      const sources = await outputs.archive(run);
      const zip = await zipStream(
        sources.map((s) => ({ name: s.output.path, size: s.output.size, bytes: () => outputs.read(s, 0, s.output.size - 1) })),
        new Date(run.completedAt ?? run.createdAt),
      );
      reply
        .type('application/zip')
        .header('content-disposition', attachment(`${run.name}-${run.id.slice(0, 8)}-outputs.zip`))
        .header('cache-control', 'private, no-cache');
      if (zip.size >= 0) reply.header('content-length', String(zip.size));
      // The schema types the body as the string of bytes it is on the wire; here those bytes come as a stream.
      return reply.send(zip.stream as unknown as string);
    },
  );

  app.get(
    '/runs/:id/outputs/*',
    {
      schema: {
        tags: ['results'],
        summary: 'One output by its manifest path: streamed (ETag = sha256, Range) or a redirect to a presigned URL',
        description:
          'Only paths the manifest lists are served. `Range: bytes=a-b` answers 206 (416 outside the file); `If-Range` with the ETag resumes only the same file; `If-None-Match` answers 304.',
        params: {
          type: 'object',
          required: ['id', '*'],
          properties: { ...idParam.properties, '*': { type: 'string', description: 'the path in the manifest' } },
        },
        response: {
          200: { description: 'the whole file', content: BINARY },
          206: { description: 'the requested byte range (Content-Range)', content: BINARY },
          302: { description: 'redirect (Location) to a short-lived presigned URL' },
          304: { description: 'not modified (If-None-Match matched the ETag)' },
          ...ErrorResponses,
        },
      },
      config: { run: 'read' },
    },
    async (req, reply) => {
      const source = await outputs.locate(runOf(req), req.params['*']);
      reply.header('cache-control', 'private, no-cache');
      if (source.kind === 'url') return reply.redirect(source.url, 302);
      const { output } = source;
      const etag = `"${output.sha256}"`;
      const name = output.path.slice(output.path.lastIndexOf('/') + 1);
      // Outputs (HTML reports, SVG) must never run as pages of the API's origin: a download, sandboxed, not sniffed.
      reply
        .header('etag', etag)
        .header('accept-ranges', 'bytes')
        .header('content-disposition', attachment(name))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', 'sandbox');
      if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(etag)) return reply.code(304).send();
      const ifRange = req.headers['if-range'];
      const range = ifRange === undefined || ifRange === etag ? byteRange(req.headers.range, output.size) : null;
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${output.size}`);
        return errorReply(reply, 416, `range ${req.headers.range} is outside the file (${output.size} bytes)`, { field: 'range' });
      }
      const { start, end } = range ?? { start: 0, end: output.size - 1 };
      if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${output.size}`);
      reply.type(contentTypeOf(output.path)).header('content-length', String(end - start + 1));
      return reply.send(output.size === 0 ? '' : Readable.from(outputs.read(source, start, end)));
    },
  );
};
