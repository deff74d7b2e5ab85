// ResultStore on S3: a run's outdir is s3://bucket/prefix. Sizes from HeadObject; the SHA-256 S3 already holds
// (objects uploaded with ChecksumAlgorithm SHA256) from GetObjectAttributes, so checksums are verified without a
// second download; reads, ranged reads and ranged streams from GetObject.

import { GetObjectAttributesCommand, GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ResultStore } from '../domain/ports.js';
import { parseS3 } from './aws-clients.js';

const missing = (e: unknown) =>
  e instanceof NotFound || e instanceof NoSuchKey || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

export class S3ResultStore implements ResultStore {
  constructor(private readonly s3: S3Client) {}

  join(base: string, relative: string): string {
    return `${base.replace(/\/+$/, '')}/${relative.replace(/^\/+/, '')}`;
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.size(uri)) !== null;
  }

  async size(uri: string): Promise<number | null> {
    const { bucket, key } = parseS3(uri);
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return h.ContentLength ?? 0;
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  }

  /** A presigned GetObject URL: clients download outputs from S3 directly instead of through the API. */
  url(uri: string, expiresSeconds: number): Promise<string> {
    const { bucket, key } = parseS3(uri);
    const name = key.slice(key.lastIndexOf('/') + 1).replace(/["\\]/g, '_');
    const get = new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: `attachment; filename="${name}"` });
    return getSignedUrl(this.s3, get, { expiresIn: expiresSeconds });
  }

  async read(uri: string): Promise<Buffer> {
    const { bucket, key } = parseS3(uri);
    const o = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await o.Body!.transformToByteArray());
  }

  async *stream(uri: string, start = 0): AsyncIterable<Buffer> {
    const { bucket, key } = parseS3(uri);
    if (start > 0) {
      // A range that starts at or past the end is refused by S3 (416): there is nothing left to stream.
      const size = await this.size(uri);
      if (size === null || start >= size) return;
    }
    const o = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: start > 0 ? `bytes=${start}-` : undefined }));
    for await (const chunk of o.Body as AsyncIterable<Uint8Array>) yield Buffer.from(chunk);
  }

  async readRange(uri: string, start: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const { bucket, key } = parseS3(uri);
    const o = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${start + length - 1}` }));
    return Buffer.from(await o.Body!.transformToByteArray());
  }

  /**
   * The object's SHA-256 (hex) as S3 holds it, or null when S3 has none for the whole object: no checksum was sent
   * at upload, or a multipart upload left a checksum of part checksums.
   */
  async storedSha256(uri: string): Promise<string | null> {
    const { bucket, key } = parseS3(uri);
    const a = await this.s3.send(
      new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ['Checksum', 'ObjectParts'] }),
    );
    const sum = a.Checksum?.ChecksumSHA256;
    if (!sum || sum.includes('-') || a.Checksum?.ChecksumType === 'COMPOSITE' || (a.ObjectParts?.TotalPartsCount ?? 0) > 1) return null;
    return Buffer.from(sum, 'base64').toString('hex');
  }
}
