// A moto server (AWS-compatible APIs) on loopback for one suite; stopped in the suite's teardown.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Test } from 'tap';

export const fakeCredentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(t: Test, opts: { env?: Record<string, string> } = {}): Promise<string> {
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Also when the suite dies before its teardown runs.
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  t.teardown(() => {
    process.off('exit', stop);
    stop();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.ok) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`moto_server did not start on ${url}: ${stderr}`);
}

/** Without a Docker engine moto must not try to run Batch containers: jobs then end at once (SUCCEEDED, or FAILED with MOTO_SIMPLE_BATCH_FAIL_AFTER). */
export async function batchWithoutDocker(url: string): Promise<void> {
  const res = await fetch(`${url}/moto-api/config`, { method: 'POST', body: JSON.stringify({ batch: { use_docker: false } }) });
  if (!res.ok) throw new Error(`moto config: ${res.status}`);
}
