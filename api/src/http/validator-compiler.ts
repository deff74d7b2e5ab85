// Request validation: query strings, path parameters and headers arrive as text, so they are coerced to the declared
// types ("5" -> 5, "a" -> ["a"]); a JSON body is already typed, so it is checked as sent (`"profiles": -3030` is
// refused, not turned into ["-3030"]).
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;

export function installValidatorCompiler(app: FastifyInstance) {
  const coercing = new Ajv({ ...options, coerceTypes: 'array' });
  const exact = new Ajv({ ...options, coerceTypes: false });
  for (const ajv of [coercing, exact]) (addFormats as unknown as (a: Ajv) => void)(ajv);
  const withShared = (ajv: Ajv) => {
    // Shared schemas (app.addSchema) may be added after the first route compiles.
    for (const s of Object.values(app.getSchemas()) as { $id: string }[]) if (!ajv.getSchema(s.$id)) ajv.addSchema(s);
    return ajv;
  };
  app.setValidatorCompiler(({ schema, httpPart }): ValidateFunction => withShared(httpPart === 'body' ? exact : coercing).compile(schema));
}
