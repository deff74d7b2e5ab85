// The application/json parser of every route: refuses bodies nested deeper than MAX_JSON_DEPTH, top-level arrays
// longer than the route schema's maxItems and NUL in strings on the raw text, before JSON.parse builds anything.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.js';
import { MAX_JSON_DEPTH } from './limits.js';

/** maxItems of the body schema's top-level array form (also inside anyOf/oneOf), if every array form has one. */
export function topLevelMaxItems(schema: unknown): number | undefined {
  const s = schema as { type?: unknown; maxItems?: number; anyOf?: unknown[]; oneOf?: unknown[] } | undefined;
  if (!s || typeof s !== 'object') return undefined;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    const arrays = alternatives.filter((a) => (a as { type?: unknown }).type === 'array');
    const limits = arrays.map(topLevelMaxItems);
    return limits.length && limits.every((l) => l !== undefined) ? Math.max(...(limits as number[])) : undefined;
  }
  return s.type === 'array' ? s.maxItems : undefined;
}

/**
 * One pass over JSON text tracking string/escape state: refuses nesting deeper than maxDepth and a top-level array of
 * more than maxItems items (counted by its commas), stopping at the first. Malformed text is left to JSON.parse.
 */
export function scanJson(text: string, maxDepth: number, maxItems = Number.POSITIVE_INFINITY): string | null {
  let depth = 0;
  let topArray = false;
  let commas = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: the next unescaped quote ends it.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          // Postgres text and jsonb cannot hold NUL: refuse it here, naming why, instead of failing the write.
          if (text.startsWith('u0000', i + 1)) return 'body: a string holds NUL (\\u0000), which cannot be stored';
          i++;
        } else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (depth === 0) topArray = c === 0x5b;
      if (++depth > maxDepth) return `body: JSON nested deeper than ${maxDepth} levels`;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c && depth === 1 && topArray && ++commas >= maxItems) {
      return `body: must NOT have more than ${maxItems} items`;
    }
  }
  return null;
}

export function installJsonParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req: FastifyRequest, body, done) => {
    const text = body as string; // parseAs: 'string'
    const problem = scanJson(text, MAX_JSON_DEPTH, topLevelMaxItems(req.routeOptions.schema?.body));
    if (problem) return done(new DomainError('invalid', problem, { field: 'body' }), undefined);
    return parse(req, text, done);
  });
}
