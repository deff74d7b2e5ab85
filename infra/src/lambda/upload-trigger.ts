// Upload trigger: S3 "Object Created" events for FASTQs (EventBridge) -> register the file with the API and,
// once the samplesheet that lists it has all of its FASTQs in the bucket, launch one run for that samplesheet.
// Convention (infra/README.md): a batch folder holds `samplesheet.csv` (uploaded first), an optional `params.json`
// and the FASTQs; FASTQ cells in the samplesheet are paths relative to its folder, or s3:// URIs.

import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { EventBridgeEvent } from 'aws-lambda';
import { parse } from 'csv-parse/sync';

export interface S3ObjectCreatedDetail {
  version: string;
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string; 'version-id'?: string; sequencer?: string };
  'request-id'?: string;
  requester?: string;
  'source-ip-address'?: string;
  reason?: string;
}
export type ObjectCreatedEvent = EventBridgeEvent<'Object Created', S3ObjectCreatedDetail>;

export interface TriggerOptions {
  s3: S3Client;
  /** API base URL without the /api/v1 prefix, e.g. http://api.scrna.internal:8080 */
  apiUrl: string;
  token: () => Promise<string>;
  samplesheetName: string;
  fastqSuffixes: string[];
  profiles: string[];
}

export type TriggerResult =
  | { action: 'ignored'; reason: string }
  | { action: 'registered'; upload: unknown; samplesheet: string | null; missing: string[] }
  | { action: 'launched' | 'already-launched'; upload: unknown; samplesheet: string; runId: string };

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF) with csv-parse, the reader the API and UI use. */
export function parseCsv(text: string): string[][] {
  return parse(text, { bom: true, record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, skip_records_with_empty_values: true });
}

function toCsv(rows: string[][]): string {
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return `${rows.map((r) => r.map(cell).join(',')).join('\n')}\n`;
}

function parseS3Uri(uri: string): { bucket: string; key: string } | null {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return m ? { bucket: m[1]!, key: m[2]! } : null;
}

const dirOf = (key: string) => (key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '');

function isMissing(err: unknown): boolean {
  return (
    err instanceof NoSuchKey ||
    err instanceof NotFound ||
    (err as { name?: string }).name === 'NotFound' ||
    (err as { name?: string }).name === 'NoSuchKey'
  );
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<{ text: string; etag: string } | null> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { text: await out.Body!.transformToString('utf8'), etag: (out.ETag ?? '').replaceAll('"', '') };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

export function createHandler(opts: TriggerOptions): (event: ObjectCreatedEvent) => Promise<TriggerResult> {
  const base = `${opts.apiUrl.replace(/\/+$/, '')}/api/v1`;
  const isFastq = (name: string) => opts.fastqSuffixes.some((s) => name.endsWith(s));

  async function api(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${await opts.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    // Throwing hands the event back to Lambda's retries and, after them, to the dead-letter queue.
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  }

  /** The nearest samplesheet at or above the FASTQ's folder. */
  async function findSamplesheet(bucket: string, key: string) {
    let dir = dirOf(key);
    for (;;) {
      const sheetKey = `${dir}${opts.samplesheetName}`;
      const sheet = await readObject(opts.s3, bucket, sheetKey);
      if (sheet) return { key: sheetKey, dir, ...sheet };
      if (dir === '') return null;
      dir = dirOf(dir.slice(0, -1));
    }
  }

  return async (event) => {
    if (event.source !== 'aws.s3' || event['detail-type'] !== 'Object Created')
      return { action: 'ignored', reason: `not an S3 Object Created event` };
    const bucket = event.detail?.bucket?.name;
    // EventBridge carries the key as stored (not URL-encoded, unlike S3 -> Lambda notifications).
    const key = event.detail?.object?.key;
    if (!bucket) throw new Error('S3 event without detail.bucket.name');
    if (!key) throw new Error('S3 event without detail.object.key');
    if (!isFastq(key)) return { action: 'ignored', reason: `not a FASTQ key: ${key}` };

    // Sample, lane and read are derived by the API from the bcl2fastq file name.
    const size = event.detail.object.size;
    const upload = await api('POST', '/uploads', { uri: `s3://${bucket}/${key}`, ...(typeof size === 'number' ? { size } : {}) });

    const sheet = await findSamplesheet(bucket, key);
    if (!sheet) return { action: 'registered', upload, samplesheet: null, missing: [] };
    const sheetUri = `s3://${bucket}/${sheet.key}`;

    // Rewrite FASTQ cells to absolute URIs and check that every one of them is in S3.
    const rows = parseCsv(sheet.text);
    const missing: string[] = [];
    const resolved: string[][] = [];
    for (const [i, row] of rows.entries()) {
      const out: string[] = [];
      for (const value of row) {
        const v = value.trim();
        if (i === 0 || !isFastq(v)) {
          out.push(value);
          continue;
        }
        const ref = parseS3Uri(v) ?? { bucket, key: `${sheet.dir}${v.replace(/^\.\//, '')}` };
        const uri = `s3://${ref.bucket}/${ref.key}`;
        if (!(await exists(opts.s3, ref.bucket, ref.key))) missing.push(uri);
        out.push(uri);
      }
      resolved.push(out);
    }
    if (missing.length > 0 || resolved.length < 2) return { action: 'registered', upload, samplesheet: sheetUri, missing };

    // One run per samplesheet version: the Lambda runs one event at a time (reserved concurrency), so a second
    // "last FASTQ" event finds the run the first one created.
    const labels = { source: 's3-upload', samplesheet_etag: sheet.etag };
    const query = new URLSearchParams({ label: `samplesheet_etag=${sheet.etag}`, limit: '100' });
    const existing = (await api('GET', `/runs?${query}`)) as { items?: { id: string; labels?: Record<string, string> }[] };
    const prior = existing.items?.find((r) => r.labels?.samplesheet_etag === sheet.etag);
    if (prior) return { action: 'already-launched', upload, samplesheet: sheetUri, runId: prior.id };

    const paramsFile = await readObject(opts.s3, bucket, `${sheet.dir}params.json`);
    const params = paramsFile ? (JSON.parse(paramsFile.text) as Record<string, unknown>) : {};
    const folder = sheet.dir.replace(/\/$/, '').split('/').pop() || bucket;
    const run = (await api('POST', '/runs', {
      name: folder,
      params,
      samplesheet: toCsv(resolved),
      profiles: opts.profiles,
      labels: { ...labels, samplesheet: sheetUri },
      submitter: 's3-upload-trigger',
    })) as { id: string };
    return { action: 'launched', upload, samplesheet: sheetUri, runId: run.id };
  };
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

let cached: ((event: ObjectCreatedEvent) => Promise<TriggerResult>) | undefined;

/** Lambda entry point; configuration comes from the function's environment (see infra/src/stacks/triggers.ts). */
export async function handler(event: ObjectCreatedEvent): Promise<TriggerResult> {
  if (!cached) {
    const secrets = new SecretsManagerClient({});
    let token: Promise<string> | undefined;
    cached = createHandler({
      s3: new S3Client({}),
      apiUrl: env('SCRNA_PUBLIC_URL'),
      token: () => {
        token ??= secrets
          .send(new GetSecretValueCommand({ SecretId: env('SCRNA_ADMIN_TOKEN_SECRET_ARN') }))
          .then((s) => s.SecretString ?? '');
        return token;
      },
      samplesheetName: env('SCRNA_SAMPLESHEET_NAME'),
      fastqSuffixes: env('SCRNA_FASTQ_SUFFIXES').split(','),
      profiles: (process.env.SCRNA_PROFILES ?? '').split(',').filter(Boolean),
    });
  }
  const result = await cached(event);
  console.log(JSON.stringify({ key: event.detail?.object?.key, ...result, upload: undefined }));
  return result;
}
