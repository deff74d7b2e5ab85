// A run's outputs: the files its ingested manifest lists, and nothing else. A requested path is looked up among them
// (never joined onto the outdir as given), so `..`, absolute paths and unlisted files cannot be reached.
import { DomainError } from './errors.js';
import type { OutputRow, ResultStore, Run } from './ports.js';
import type { ResultRepository } from './repositories.js';

/** Presigned URLs live this long: enough to start a download, short enough that a leaked link soon stops working. */
export const PRESIGN_SECONDS = 300;

export type OutputSource = { kind: 'url'; output: OutputRow; url: string } | { kind: 'bytes'; output: OutputRow; uri: string };

export class OutputService {
  constructor(
    private readonly results: Pick<ResultRepository, 'outputs'>,
    private readonly files: ResultStore,
  ) {}

  list(run: Run): Promise<OutputRow[]> {
    return this.results.outputs(run.id);
  }

  /** Where one listed output is read from: a presigned URL when the store has them, else its bytes through the API. */
  async locate(run: Run, path: string): Promise<OutputSource> {
    const output = (await this.results.outputs(run.id)).find((o) => o.path === path);
    if (!output || !run.outdir) throw new DomainError('not_found', 'no such output in the run manifest', { field: 'path' });
    const uri = this.files.join(run.outdir, output.path);
    if (this.files.url) return { kind: 'url', output, url: await this.files.url(uri, PRESIGN_SECONDS) };
    // The manifest's size and checksum are what the client is told; a file changed or removed since ingest is refused.
    const size = await this.files.size(uri);
    if (size === null) throw new DomainError('conflict', `${path} is listed but no longer in the output directory`, { field: 'path' });
    if (size !== output.size) throw new DomainError('conflict', `${path} changed since the results were ingested`, { field: 'path' });
    return { kind: 'bytes', output, uri };
  }

  /** Bytes start..end (inclusive) of a located output. */
  async *read(source: Extract<OutputSource, { kind: 'bytes' }>, start: number, end: number): AsyncIterable<Buffer> {
    let left = end - start + 1;
    // The store streams to the end of the file; stop (and close it) once the range is sent.
    for await (const chunk of this.files.stream(source.uri, start)) {
      if (chunk.length >= left) {
        yield chunk.subarray(0, left);
        return;
      }
      left -= chunk.length;
      yield chunk;
    }
  }
}
