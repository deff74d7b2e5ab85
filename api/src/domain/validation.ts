// Launch validation: params against the pipeline's nextflow_schema.json, samplesheets against assets/schema_input*.json.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { CsvError, parseCsv } from './csv.js';
import type { SchemaFiles } from './ports.js';

export interface ValidationError {
  field?: string;
  row?: number;
  column?: string | number;
  line?: number;
  message: string;
}

/** nf-core formats of values that name files; ajv accepts any string for them, the data-roots check does the rest. */
const PATH_FORMATS = ['file-path', 'directory-path', 'path', 'file-path-pattern'];

function makeAjv(coerce: boolean) {
  // nf-core schemas carry custom keywords (help_text, fa_icon, hidden, mimetype, schema): not strict.
  const ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes: coerce, useDefaults: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  for (const f of PATH_FORMATS) ajv.addFormat(f, true);
  return ajv;
}

type Properties = Record<string, { format?: unknown }>;

const pathNames = (props: Properties | undefined) =>
  Object.entries(props ?? {})
    .filter(([, p]) => PATH_FORMATS.includes(String(p?.format)))
    .map(([k]) => k);

function describe(e: ErrorObject): string {
  if (e.keyword === 'required') return `is required (${(e.params as { missingProperty: string }).missingProperty})`;
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  if (e.keyword === 'additionalProperties') return `unknown parameter '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  return e.message ?? e.keyword;
}

export interface LoadedSchemas {
  params: Record<string, unknown>;
  samplesheet: Record<string, unknown>;
  samplesheets: Record<string, Record<string, unknown>>;
}

export class LaunchValidator {
  private readonly ajv = makeAjv(false);
  private readonly ajvSheet = makeAjv(true);
  private readonly paramsFn: ValidateFunction;
  private readonly sheetFns = new Map<string, ValidateFunction>();

  constructor(readonly schemas: LoadedSchemas) {
    const { $schema: _, ...params } = schemas.params;
    this.paramsFn = this.ajv.compile(params);
    for (const [k, s] of Object.entries(schemas.samplesheets)) {
      const { $schema: __, ...rest } = s;
      this.sheetFns.set(k, this.ajvSheet.compile(rest));
    }
  }

  /** Loads nextflow_schema.json and the samplesheet schemas (assets/schema_input.json, and the matrix one if present). */
  static async load(files: SchemaFiles): Promise<LaunchValidator> {
    const need = async (name: string) => {
      const s = await files.read(name);
      if (!s) throw new Error(`${files.describe(name)} is missing`);
      return s;
    };
    const params = await need('nextflow_schema.json');
    const samplesheets: Record<string, Record<string, unknown>> = { fastq: await need('assets/schema_input.json') };
    const matrix = await files.read('assets/schema_input_matrix.json');
    if (matrix) samplesheets.matrix = matrix;
    return new LaunchValidator({ params, samplesheet: samplesheets.fastq!, samplesheets });
  }

  /** Params whose schema format names a file or directory (top level and nf-core `$defs`/`definitions` groups). */
  pathParams(): string[] {
    const s = this.schemas.params as { properties?: Properties; $defs?: Record<string, { properties?: Properties }> };
    const groups = { ...(s as { definitions?: typeof s.$defs }).definitions, ...s.$defs };
    return [...new Set([...pathNames(s.properties), ...Object.values(groups).flatMap((g) => pathNames(g?.properties))])];
  }

  /** Samplesheet columns whose schema format names a file or directory. */
  pathColumns(inputType = 'fastq'): string[] {
    return pathNames(this.sheetSchema(inputType).items?.properties);
  }

  validateParams(params: Record<string, unknown>, opts: { inputProvided: boolean }): ValidationError[] {
    if (this.paramsFn(params)) return [];
    return (this.paramsFn.errors ?? [])
      .filter(
        (e) => !(opts.inputProvided && e.keyword === 'required' && (e.params as { missingProperty: string }).missingProperty === 'input'),
      )
      .filter((e) => e.keyword !== 'if' && e.keyword !== 'allOf')
      .map((e) => {
        const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : null;
        const extra = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty : null;
        const at = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return { field: `params${at ? `.${at}` : ''}${missing ? `.${missing}` : ''}${extra ? `.${extra}` : ''}`, message: describe(e) };
      });
  }

  private sheetSchema(inputType: string) {
    return (this.schemas.samplesheets[inputType] ?? this.schemas.samplesheet) as { items?: { properties?: Properties } };
  }

  /** Parses and checks a samplesheet; row numbers count data rows from 1, line numbers count file lines. */
  validateSamplesheet(csv: string, inputType = 'fastq'): { rows: Record<string, unknown>[]; lines: number[]; errors: ValidationError[] } {
    let parsed: ReturnType<typeof parseCsv>;
    try {
      parsed = parseCsv(csv);
    } catch (e) {
      if (e instanceof CsvError)
        return {
          rows: [],
          lines: [],
          errors: [{ field: 'samplesheet', line: e.line, column: e.column, message: `samplesheet ${e.message}` }],
        };
      throw e;
    }
    const [header, ...data] = parsed;
    if (!header) return { rows: [], lines: [], errors: [{ field: 'samplesheet', line: 1, message: 'the samplesheet is empty' }] };
    const errors: ValidationError[] = [];
    const seen = new Set<string>();
    header.cells.forEach((h, i) => {
      if (h === '') errors.push({ field: 'samplesheet', line: 1, column: `#${i + 1}`, message: 'empty column name' });
      if (seen.has(h)) errors.push({ field: 'samplesheet', line: 1, column: h, message: 'duplicate column' });
      seen.add(h);
    });
    const rows = data.map((r, idx) => {
      const o: Record<string, unknown> = {};
      header.cells.forEach((h, i) => {
        const v = r.cells[i];
        if (v !== undefined && v !== '') o[h] = v;
      });
      // No column admits a line break; name it at its cell rather than as a pattern mismatch.
      r.cells.forEach((v, i) => {
        if (/[\r\n]/.test(v))
          errors.push({
            field: 'samplesheet',
            row: idx + 1,
            line: r.line,
            column: header.cells[i] ?? `#${i + 1}`,
            message: 'line break inside a cell',
          });
      });
      if (r.cells.length !== header.cells.length)
        errors.push({ field: 'samplesheet', line: r.line, message: `expected ${header.cells.length} columns, found ${r.cells.length}` });
      return o;
    });
    const fn = this.sheetFns.get(inputType) ?? this.sheetFns.get('fastq');
    const schema = this.sheetSchema(inputType);
    const known = Object.keys(schema.items?.properties ?? {});
    for (const h of header.cells)
      if (known.length && h !== '' && !known.includes(h))
        errors.push({ field: 'samplesheet', line: 1, column: h, message: `unknown column (expected ${known.join(', ')})` });
    if (fn && !fn(rows)) {
      for (const e of fn.errors ?? []) {
        const m = /^\/(\d+)(?:\/(.+))?$/.exec(e.instancePath);
        const idx = m ? Number(m[1]) : -1;
        const column = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : m?.[2];
        if (e.keyword === 'oneOf' || e.keyword === 'not') continue; // summarised by their branch errors below
        const err: ValidationError = { field: 'samplesheet', message: describe(e) };
        if (idx >= 0) {
          err.row = idx + 1;
          err.line = data[idx]?.line;
        } else if (data.length === 0) err.line = 2; // a header and no rows: the first row is missing on line 2
        if (column) err.column = column;
        errors.push(err);
      }
      // oneOf failures whose branches only said "required": explain with the alternatives.
      for (const e of fn.errors ?? [])
        if (e.keyword === 'oneOf') {
          const idx = Number(/^\/(\d+)/.exec(e.instancePath)?.[1] ?? -1);
          errors.push({
            field: 'samplesheet',
            row: idx + 1,
            line: data[idx]?.line,
            message: 'must match exactly one of the allowed column combinations',
          });
        }
    }
    return { rows, lines: data.map((r) => r.line), errors: dedupe(errors) };
  }
}

function dedupe(errors: ValidationError[]): ValidationError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
