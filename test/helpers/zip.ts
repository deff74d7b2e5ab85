// Reads a zip with Python's zipfile, a reader independent of the library that wrote it: each entry's name, size and
// SHA-256, after zipfile's own CRC check of every member.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from './exec.js';

const READER = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    print(json.dumps({"bad": bad, "entries": [
        {"path": i.filename, "size": i.file_size, "sha256": hashlib.sha256(z.read(i)).hexdigest()} for i in z.infolist()]}))
`;

export async function readZip(
  bytes: Buffer | string,
): Promise<{ bad: string | null; entries: { path: string; size: number; sha256: string }[] }> {
  let file = typeof bytes === 'string' ? bytes : '';
  if (typeof bytes !== 'string') {
    file = path.join(os.tmpdir(), `zip-${crypto.randomUUID()}.zip`);
    await writeFile(file, bytes);
  }
  const r = await run('python3', ['-c', READER, file]);
  if (r.code !== 0) throw new Error(`zipfile could not read ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
