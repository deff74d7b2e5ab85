// Webhooks: the events a subscription may name, what it may point at, and the delivery schedule. The outbox rows
// are written by the database in the same transaction as the change they report (migration 0005's trigger); the
// dispatcher sends them at least once, in order per run and subscription, signed (Standard Webhooks), retrying with
// exponential back-off and jitter until the retry window has passed.
import { randomBytes } from 'node:crypto';
import { DomainError } from './errors.js';
import type { WebhookRepository } from './repositories.js';

export const WEBHOOK_EVENTS = ['run.status_changed', 'run.completed', 'run.failed', 'run.results_ingested'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  project: string;
  url: string;
  events: WebhookEvent[];
  description: string | null;
  createdAt: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  id: string;
  /** The message id receivers deduplicate by (`webhook-id`): the same for every attempt and redelivery. */
  messageId: string;
  webhookId: string;
  runId: string;
  eventType: string;
  payload: Record<string, unknown>;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** A claimed delivery with what sending it needs. */
export interface DueDelivery {
  id: string;
  url: string;
  secret: string;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
}

/** What became of one attempt: delivered, retried at `retryAt`, or given up. */
export type Outcome = { id: string; status: number | null; error: string | null; durationMs: number } & (
  | { state: 'delivered' }
  | { state: 'pending'; retryAt: Date }
  | { state: 'failed' }
);

/** Where messages go: the network side, behind a port (the HTTP adapter guards addresses and signs). */
export interface WebhookTargets {
  /** Refuses, as DomainError 'invalid' on `url`, a target the platform must not call (see the adapter). */
  check(url: string): Promise<void>;
  /** POSTs one signed message; the HTTP status, or the error when no response came. */
  send(m: { url: string; secret: string; messageId: string; timestamp: Date; body: string }): Promise<{
    status: number | null;
    error: string | null;
  }>;
}

export const messageId = (deliveryId: string) => `msg_${deliveryId}`;
/** Standard Webhooks secrets: `whsec_` and base64 of the key (32 random bytes). */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface Schedule {
  baseMs: number;
  maxMs: number;
  /** How long a delivery is retried before it is marked failed (at least 24 h in production). */
  windowMs: number;
}

/** Exponential back-off with jitter: the n-th retry waits between half and all of base·2^(n-1), capped at maxMs. */
export function retryDelay(attempts: number, s: Pick<Schedule, 'baseMs' | 'maxMs'>, random = Math.random): number {
  const full = Math.min(s.maxMs, s.baseMs * 2 ** Math.min(attempts - 1, 40));
  return Math.round(full * (0.5 + random() / 2));
}

export function outcomeOf(
  d: DueDelivery,
  r: { status: number | null; error: string | null; durationMs: number },
  s: Schedule,
  now: Date,
  random = Math.random,
): Outcome {
  const base = { id: d.id, status: r.status, error: r.error, durationMs: r.durationMs };
  if (r.status !== null && r.status >= 200 && r.status < 300) return { ...base, state: 'delivered' };
  const retryAt = new Date(now.getTime() + retryDelay(d.attempts + 1, s, random));
  if (retryAt.getTime() - d.createdAt.getTime() > s.windowMs) return { ...base, state: 'failed' };
  return { ...base, state: 'pending', retryAt };
}

type Log = { warn(o: object, m?: string): void };

/** Sends due deliveries until none is due, then waits pollMs; one pass at a time. */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly repo: Pick<WebhookRepository, 'dispatch'>,
    private readonly targets: WebhookTargets,
    private readonly opts: Schedule & { pollMs: number; batch: number; log: Log },
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Delivers what is due now (also called by tests and after a change, to skip the wait). */
  pass(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number) {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.pass()
        .catch((err) => this.opts.log.warn({ err }, 'webhook delivery pass failed'))
        .finally(() => this.schedule(this.opts.pollMs));
    }, ms);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const n = await this.repo.dispatch(this.opts.batch, (due) => Promise.all(due.map((d) => this.attempt(d))));
      if (n === 0) return;
    }
  }

  private async attempt(d: DueDelivery): Promise<Outcome> {
    const started = Date.now();
    const body = JSON.stringify(d.payload);
    const r = await this.targets
      .send({ url: d.url, secret: d.secret, messageId: messageId(d.id), timestamp: new Date(), body })
      .catch((e: Error) => ({ status: null, error: e.message }));
    return outcomeOf(d, { ...r, durationMs: Date.now() - started }, this.opts, new Date());
  }
}

/** Subscriptions and their delivery log, always within the caller's project. */
export class WebhookService {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly targets: Pick<WebhookTargets, 'check'>,
    private readonly kick: () => void,
  ) {}

  async create(project: string, w: { url: string; events: WebhookEvent[]; description?: string }, createdBy: string | null) {
    await this.targets.check(w.url);
    const secret = newWebhookSecret();
    const hook = await this.repo.create({
      id: crypto.randomUUID(),
      project,
      url: w.url,
      events: [...new Set(w.events)],
      description: w.description ?? null,
      secret,
      createdBy,
    });
    return { ...hook, secret };
  }

  list(project: string): Promise<Webhook[]> {
    return this.repo.list(project);
  }

  async get(project: string, id: string): Promise<Webhook> {
    const w = await this.repo.get(project, id);
    if (!w) throw new DomainError('not_found', 'webhook not found', { field: 'id' });
    return w;
  }

  async delete(project: string, id: string): Promise<void> {
    if (!(await this.repo.delete(project, id))) throw new DomainError('not_found', 'webhook not found', { field: 'id' });
  }

  async deliveries(project: string, id: string, limit: number): Promise<Delivery[]> {
    await this.get(project, id);
    return this.repo.deliveries(id, limit);
  }

  async delivery(project: string, id: string, deliveryId: string): Promise<Delivery & { attemptLog: DeliveryAttempt[] }> {
    await this.get(project, id);
    const d = await this.repo.delivery(id, deliveryId);
    if (!d) throw new DomainError('not_found', 'delivery not found', { field: 'deliveryId' });
    return { ...d, attemptLog: await this.repo.attempts(deliveryId) };
  }

  /** Sends a delivery again (same message id, so receivers can tell), ahead of the run's later ones. */
  async redeliver(project: string, id: string, deliveryId: string): Promise<Delivery> {
    await this.get(project, id);
    const d = await this.repo.redeliver(id, deliveryId);
    if (!d) throw new DomainError('not_found', 'delivery not found', { field: 'deliveryId' });
    this.kick();
    return d;
  }
}
