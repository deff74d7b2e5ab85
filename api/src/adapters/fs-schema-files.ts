// The pipeline's JSON schemas (nextflow_schema.json, assets/*.json) read from the workflows directory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SchemaFiles } from '../domain/ports.js';

export class FsSchemaFiles implements SchemaFiles {
  constructor(private readonly workflowsDir: string) {}

  describe(name: string): string {
    return path.join(this.workflowsDir, name);
  }

  async read(name: string): Promise<Record<string, unknown> | null> {
    let text: string;
    try {
      text = await readFile(this.describe(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return JSON.parse(text);
  }
}
