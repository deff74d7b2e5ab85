// The official GA4GH WES 1.1 document (and service-info 1.0, which it refers to by a remote URL, read from its local
// copy: no network), dereferenced by swagger-parser, with ajv validators of its response bodies.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { repoRoot } from '../helpers/paths.js';

export const referenceDir = [path.resolve(repoRoot, '../shared/reference'), '/work/shared/reference'].find((d) =>
  existsSync(path.join(d, 'ga4gh-wes-1.1.0.openapi.yaml')),
);

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
type Components = { components: { schemas: Record<string, object> } };

export interface WesSpec {
  /** The State enum of the document. */
  states: string[];
  /** Every "METHOD /path" the document defines. */
  operations: string[];
  /** Validates a body answered by `METHOD /path` (a document path) with `status`; null when it conforms. */
  check(op: string, status: number, body: unknown): string | null;
  /** Validates against service-info 1.0's Service schema; null when it conforms. */
  checkService(body: unknown): string | null;
}

function ajvFor(): Ajv {
  // OpenAPI 3.0 schemas: `nullable`, and formats ajv-formats does not define (int32, int64, binary).
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  for (const f of ['int32', 'int64', 'binary']) ajv.addFormat(f, true);
  return ajv;
}

export async function loadWesSpec(dir: string): Promise<WesSpec> {
  const serviceInfo = path.join(dir, 'ga4gh-service-info-1.0.0.yaml');
  const resolve = {
    serviceInfo: { order: 1, canRead: /ga4gh-service-info\/v1\.0\.0\/service-info\.yaml/, read: () => readFile(serviceInfo) },
    http: false,
  };
  const wes = (await SwaggerParser.dereference(path.join(dir, 'ga4gh-wes-1.1.0.openapi.yaml'), { resolve } as never)) as unknown as Doc &
    Components;
  const service = (await SwaggerParser.dereference(serviceInfo)) as unknown as Components;
  const ajv = ajvFor();
  const cache = new Map<object, ValidateFunction>();
  const compile = (s: object) => cache.get(s) ?? cache.set(s, ajv.compile(s)).get(s)!;
  const errorResponse = compile(wes.components.schemas.ErrorResponse!);
  const run = (fn: ValidateFunction, body: unknown) => (fn(body) ? null : ajv.errorsText(fn.errors));
  return {
    states: (wes.components.schemas.State as { enum: string[] }).enum,
    operations: Object.entries(wes.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    check(op, status, body) {
      const [method, p] = op.split(' ') as [string, string];
      const declared = wes.paths[p]?.[method.toLowerCase()];
      if (!declared) return `${op} is not in the WES document`;
      const schema = declared.responses[String(status)]?.content?.['application/json']?.schema;
      // Statuses the document does not list (409, 413, 415, 503) are still errors: ErrorResponse bodies.
      if (!schema) return status >= 400 ? run(errorResponse, body) : `${op}: status ${status} is not in the WES document`;
      return run(compile(schema), body);
    },
    checkService: (body) => run(compile(service.components.schemas.Service!), body),
  };
}
