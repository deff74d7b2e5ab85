// A tiny events receiver on 127.0.0.1 for the plugin's wire tests: records every POSTed event and batch, and can
// answer slowly, answer with an error status, or go away (connection refused) and come back on the same port.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PluginEvent {
  seq: number;
  event: string;
  runName: string;
  runId: string;
  utcTime: string;
  timestamp: string;
  platformRunId?: string;
  trace?: Record<string, unknown> & { task_id?: number; hash?: string; status?: string; name?: string };
  metadata?: { parameters: Record<string, unknown>; workflow: Record<string, unknown> };
}

export class Receiver {
  /** Events in arrival order (duplicates included). */
  readonly events: PluginEvent[] = [];
  /** Size of each accepted batch, in arrival order. */
  readonly batches: number[] = [];
  readonly headers: IncomingHttpHeaders[] = [];
  /** performance.now() when the latest batch was recorded. */
  lastArrival = 0;
  /** Milliseconds to wait before answering each request. */
  delayMs = 0;
  /** Status to answer with; anything but 2xx records nothing. */
  status = 202;
  /** While set, requests wait for it before being answered (see hold()). */
  private gate: Promise<void> | undefined;
  /** Called for each recorded event (e.g. to go down at a given point of the run). */
  onEvent: ((e: PluginEvent) => void) | undefined;
  private server: http.Server;
  private constructor(public port: number) {
    this.server = this.create();
  }

  static async start(): Promise<Receiver> {
    const r = new Receiver(0);
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private create(): http.Server {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        await this.gate;
        setTimeout(() => {
          if (req.method !== 'POST' || req.url !== '/api/v1/events') {
            res.writeHead(404).end();
            return;
          }
          if (this.status < 200 || this.status > 299) {
            res.writeHead(this.status, { 'content-type': 'application/json' }).end('{"error":"test"}');
            return;
          }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PluginEvent | PluginEvent[];
          const list = Array.isArray(body) ? body : [body];
          this.headers.push(req.headers);
          this.batches.push(list.length);
          this.lastArrival = performance.now();
          for (const e of list) {
            this.events.push(e);
            this.onEvent?.(e);
          }
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: list.length }));
        }, this.delayMs);
      });
    });
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Holds every request until the returned function is called (lets a backlog build up in the plugin). */
  hold(): () => void {
    let release = () => {};
    this.gate = new Promise<void>((resolve) => {
      release = () => {
        this.gate = undefined;
        resolve();
      };
    });
    return release;
  }

  /** Stops listening and drops open connections: the plugin now gets "connection refused". */
  down(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.server = this.create();
    await this.listen();
  }

  close(): Promise<void> {
    return this.down();
  }

  /** First arrival of each seq, in arrival order. */
  unique(): PluginEvent[] {
    const seen = new Set<number>();
    return this.events.filter((e) => !seen.has(e.seq) && seen.add(e.seq));
  }
}
