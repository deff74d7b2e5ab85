// A run's outputs: the files its ingested manifest lists, and nothing else. A requested path is looked up among them
// (never joined onto the outdir as given), so `..`, absolute paths and unlisted files cannot be reached.
import { DomainError } from './errors.js';
import type { OutputRow, ResultStore, Run } from './ports.js';
import type { ResultRepository } from './repositories.js';

/** Presigned URLs live this long: enough to start a download, short enough that a leaked link soon stops working. */
export const PRESIGN_SECONDS = 300;

export type OutputSource = { kind: 'url'; output: OutputRow; url: string } | BytesSource;
export type BytesSource = { kind: 'bytes'; output: OutputRow; uri: string };

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
    if (this.files.url)
      return { kind: 'url', output, url: await this.files.url(this.files.join(run.outdir, output.path), PRESIGN_SECONDS) };
    return this.bytesOf(run.outdir, output);
  }

  /**
   * Every output as bytes, each checked against the manifest first: an archive of them is refused before its first
   * byte rather than cut short in the middle.
   */
  async archive(run: Run): Promise<BytesSource[]> {
    const outputs = await this.results.outputs(run.id);
    if (!outputs.length || !run.outdir) throw new DomainError('conflict', 'the run has no ingested outputs yet', { field: 'id' });
    const outdir = run.outdir;
    return Promise.all(outputs.map((o) => this.bytesOf(outdir, o)));
  }

  // The manifest's size and checksum are what the client is told; a file changed or removed since ingest is refused.
  private async bytesOf(outdir: string, output: OutputRow): Promise<BytesSource> {
    const uri = this.files.join(outdir, output.path);
    const size = await this.files.size(uri);
    const field = { field: 'path' };
    if (size === null) throw new DomainError('conflict', `${output.path} is listed but no longer in the output directory`, field);
    if (size !== output.size) throw new DomainError('conflict', `${output.path} changed since the results were ingested`, field);
    return { kind: 'bytes', output, uri };
  }

  /** Bytes start..end (inclusive) of a located output. */
  async *read(source: BytesSource, start: number, end: number): AsyncIterable<Buffer> {
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
