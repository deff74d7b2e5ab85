// Turns the nf-core style params schema into form groups, and validates params and samplesheets with ajv.
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { JsonSchema } from './api.js';

export interface Field {
  name: string;
  schema: JsonSchema;
  required: boolean;
}

export interface Group {
  id: string;
  title: string;
  description?: string;
  fields: Field[];
}

function fieldsOf(s: JsonSchema): Field[] {
  const req = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {})
    .filter(([, p]) => !p.hidden)
    .map(([name, schema]) => ({ name, schema, required: req.has(name) }));
}

/** Groups in the schema's `allOf` order; top-level properties outside any group form a last group. */
export function groups(schema: JsonSchema): Group[] {
  const defs = schema.$defs ?? schema.definitions ?? {};
  const out: Group[] = [];
  const seen = new Set<string>();
  const refs = (schema.allOf ?? []).map((a) => a.$ref?.split('/').pop()).filter((x): x is string => !!x);
  const order = refs.length ? refs : Object.keys(defs);
  for (const id of order) {
    const g = defs[id];
    if (!g) continue;
    seen.add(id);
    const fields = fieldsOf(g);
    if (fields.length) out.push({ id, title: g.title ?? id, description: g.description, fields });
  }
  const top = fieldsOf(schema);
  if (top.length) out.push({ id: 'other', title: 'Other parameters', fields: top });
  return out;
}

export function defaults(schema: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of groups(schema)) for (const f of g.fields) if (f.schema.default !== undefined) out[f.name] = f.schema.default;
  return out;
}

function newAjv(coerce: boolean) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes: coerce, useDefaults: false, verbose: true });
  addFormats(ajv);
  // nf-core formats that ajv does not know: accept any string (the server checks paths).
  for (const f of ['file-path', 'directory-path', 'path', 'file-path-pattern']) ajv.addFormat(f, true);
  return ajv;
}

function message(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'enum') return `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'pattern') return `must match ${String(p.pattern)}`;
  if (e.keyword === 'oneOf' || e.keyword === 'anyOf') {
    // "either fastqs or fastq_1 + fastq_2": name the alternatives by their required columns.
    const alts = ((e.schema as JsonSchema[]) ?? []).map((b) => (b.required ?? []).join(' + ')).filter(Boolean);
    if (alts.length) return `give exactly one of: ${alts.join(' | ')}`;
  }
  if (typeof e.parentSchema?.errorMessage === 'string') return e.parentSchema.errorMessage;
  return e.message ?? 'is invalid';
}

/** Field name an error belongs to: the property itself, or the missing property for `required`. */
function fieldOf(e: ErrorObject): string {
  if (e.keyword === 'required') return String((e.params as { missingProperty: string }).missingProperty);
  return e.instancePath.split('/').filter(Boolean)[0] ?? '';
}

export type ParamsValidator = (params: Record<string, unknown>) => Record<string, string>;

export function paramsValidator(schema: JsonSchema): ParamsValidator {
  const validate = newAjv(false).compile(schema);
  return (params) => {
    const errs: Record<string, string> = {};
    if (!validate(params)) for (const e of validate.errors ?? []) errs[fieldOf(e)] ??= message(e);
    return errs;
  };
}

/** Row/column errors for a samplesheet; `row` is 1-based data row (CSV line minus header). */
export interface RowError {
  row: number;
  column: string;
  message: string;
}

export type SheetValidator = (rows: Record<string, string>[]) => RowError[];

export function sheetValidator(schema: JsonSchema): SheetValidator {
  const validate = newAjv(true).compile(schema);
  return (rows) => {
    // Empty cells mean "absent", as in a CSV parsed by nf-schema; coercion turns numbers-as-text into numbers.
    const data = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== '')));
    if (validate(data)) return [];
    const out: RowError[] = [];
    // Errors inside oneOf branches only explain why each alternative failed; the oneOf error itself says it better.
    for (const e of (validate.errors ?? []).filter((x) => !/\/(oneOf|anyOf)\/\d+\//.test(x.schemaPath))) {
      const parts = e.instancePath.split('/').filter(Boolean);
      if (parts.length === 0) {
        out.push({ row: 0, column: '', message: message(e) });
        continue;
      }
      const row = Number(parts[0]) + 1;
      const missing = (e.params as { missingProperty?: string }).missingProperty;
      const column = missing !== undefined ? String(missing) : (parts[1] ?? '');
      out.push({ row, column, message: message(e) });
    }
    return out;
  };
}

export function sheetColumns(schema: JsonSchema): string[] {
  const item = schema.items ?? {};
  return Object.keys(item.properties ?? {});
}
