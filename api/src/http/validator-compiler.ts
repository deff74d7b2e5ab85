// Request validation: query strings, path parameters and headers arrive as text, so they are coerced to the declared
// types ("5" -> 5, "a" -> ["a"]); a JSON body is already typed, so it is checked as sent (`"profiles": -3030` is
// refused, not turned into ["-3030"]). Fastify builds one validator per plugin context with that context's shared
// schemas (app.addSchema), so `$ref`s to them resolve wherever a route is registered.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;

export function buildValidator(externalSchemas: Record<string, unknown>) {
  const coercing = new Ajv({ ...options, coerceTypes: 'array' });
  const exact = new Ajv({ ...options, coerceTypes: false });
  for (const ajv of [coercing, exact]) {
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    for (const s of Object.values(externalSchemas)) ajv.addSchema(s as object);
  }
  return ({ schema, httpPart }: { schema: unknown; httpPart?: string }): ValidateFunction =>
    (httpPart === 'body' ? exact : coercing).compile(schema as object);
}
