// PathResolver for the AWS configuration: local paths as on any machine, and whether an s3:// input is there (an
// object, or a prefix with objects, since some inputs are directories) before a run is created for it.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { PathResolver, RealPath } from '../domain/ports.js';
import { parseS3 } from './aws-clients.js';
import type { S3ResultStore } from './s3-results.js';

const GLOB = /[*?[\]{}]/;

export class S3PathResolver implements PathResolver {
  constructor(
    private readonly local: PathResolver,
    private readonly s3: S3Client,
    private readonly objects: S3ResultStore,
  ) {}

  realpath(p: string): Promise<RealPath> {
    return this.local.realpath(p);
  }

  async s3Exists(uri: string): Promise<boolean | null> {
    if (GLOB.test(uri)) return null;
    try {
      if (await this.objects.exists(uri)) return true;
      const { bucket, key } = parseS3(uri);
      const prefix = `${key.replace(/\/+$/, '')}/`;
      const listed = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
      return (listed.KeyCount ?? 0) > 0;
    } catch {
      // No permission or no answer: the pipeline will tell.
      return null;
    }
  }
}
