// Webhook subscriptions and the delivery outbox (filled by migration 0005's trigger on runs).
import { type Selectable, sql } from 'kysely';
import type { WebhookDeliveriesTable, WebhooksTable } from '../../db/schema.js';
import type { WebhookRepository } from '../../domain/repositories.js';
import { type Delivery, type DueDelivery, messageId, type Outcome, type Webhook, type WebhookEvent } from '../../domain/webhooks.js';
import type { Scope } from './scope.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const hookOf = (r: Selectable<WebhooksTable>): Webhook => ({
  id: r.id,
  project: r.project_id,
  url: r.url,
  events: r.events as WebhookEvent[],
  description: r.description,
  createdAt: r.created_at.toISOString(),
});

const deliveryOf = (r: Selectable<WebhookDeliveriesTable>): Delivery => ({
  id: r.id,
  messageId: messageId(r.id),
  webhookId: r.webhook_id,
  runId: r.run_id,
  eventType: r.event_type,
  payload: r.payload as Record<string, unknown>,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.state === 'pending' ? iso(r.next_attempt_at) : null,
  lastStatus: r.last_status,
  lastError: r.last_error,
  deliveredAt: iso(r.delivered_at),
  createdAt: r.created_at.toISOString(),
});

const HOOK_COLUMNS = ['id', 'project_id', 'url', 'events', 'description', 'created_by', 'created_at'] as const;

export class KyselyWebhookRepository implements WebhookRepository {
  constructor(private readonly s: Scope) {}

  async create(w: Omit<Webhook, 'createdAt'> & { secret: string; createdBy: string | null }): Promise<Webhook> {
    const r = await this.s.db
      .insertInto('webhooks')
      .values({
        id: w.id,
        project_id: w.project,
        url: w.url,
        events: w.events,
        secret: w.secret,
        description: w.description,
        created_by: w.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return hookOf(r);
  }

  async list(project: string): Promise<Webhook[]> {
    const rows = await this.s.db
      .selectFrom('webhooks')
      .select(HOOK_COLUMNS)
      .where('project_id', '=', project)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => hookOf({ ...r, secret: '' }));
  }

  async get(project: string, id: string): Promise<Webhook | null> {
    const r = await this.s.db
      .selectFrom('webhooks')
      .select(HOOK_COLUMNS)
      .where('project_id', '=', project)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? hookOf({ ...r, secret: '' }) : null;
  }

  async delete(project: string, id: string): Promise<boolean> {
    const r = await this.s.db.deleteFrom('webhooks').where('project_id', '=', project).where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async deliveries(webhookId: string, limit: number): Promise<Delivery[]> {
    const rows = await this.s.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', webhookId)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(deliveryOf);
  }

  async delivery(webhookId: string, deliveryId: string): Promise<Delivery | null> {
    const r = await this.s.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', webhookId)
      .where('id', '=', deliveryId)
      .executeTakeFirst();
    return r ? deliveryOf(r) : null;
  }

  async attempts(deliveryId: string) {
    const rows = await this.s.db
      .selectFrom('webhook_attempts')
      .select(['at', 'status', 'error', 'duration_ms'])
      .where('delivery_id', '=', deliveryId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ at: r.at.toISOString(), status: r.status, error: r.error, durationMs: r.duration_ms }));
  }

  async redeliver(webhookId: string, deliveryId: string): Promise<Delivery | null> {
    const r = await this.s.db
      .updateTable('webhook_deliveries')
      .set({ state: 'pending', next_attempt_at: sql<Date>`now()` })
      .where('webhook_id', '=', webhookId)
      .where('id', '=', deliveryId)
      .returningAll()
      .executeTakeFirst();
    return r ? deliveryOf(r) : null;
  }

  async dispatch(limit: number, send: (due: DueDelivery[]) => Promise<Outcome[]>): Promise<number> {
    return this.s.transaction(async (tx) => {
      // Head of line only: a delivery waits while an older one of its subscription and run is pending, so a run's
      // events arrive in order. SKIP LOCKED lets several API processes share the outbox without sending twice.
      const due = await tx.db
        .selectFrom('webhook_deliveries as d')
        .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
        .select(['d.id', 'd.payload', 'd.attempts', 'd.created_at', 'w.url', 'w.secret'])
        .where('d.state', '=', 'pending')
        .where('d.next_attempt_at', '<=', sql<Date>`now()`)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('webhook_deliveries as e')
                .select(sql`1`.as('one'))
                .whereRef('e.webhook_id', '=', 'd.webhook_id')
                .whereRef('e.run_id', '=', 'd.run_id')
                .where('e.state', '=', 'pending')
                .whereRef('e.seq', '<', 'd.seq'),
            ),
          ),
        )
        .orderBy('d.seq')
        .limit(limit)
        .forUpdate('d')
        .skipLocked()
        .execute();
      if (!due.length) return 0;
      const outcomes = await send(
        due.map((d) => ({
          id: d.id,
          url: d.url,
          secret: d.secret,
          payload: d.payload as Record<string, unknown>,
          attempts: d.attempts,
          createdAt: d.created_at,
        })),
      );
      for (const o of outcomes) {
        await tx.db
          .updateTable('webhook_deliveries')
          .set((eb) => ({
            state: o.state,
            attempts: eb('attempts', '+', 1),
            last_status: o.status,
            last_error: o.error,
            delivered_at: o.state === 'delivered' ? sql<Date>`now()` : null,
            next_attempt_at: o.state === 'pending' ? o.retryAt : sql<Date>`now()`,
          }))
          .where('id', '=', o.id)
          .execute();
        await tx.db
          .insertInto('webhook_attempts')
          .values({ delivery_id: o.id, status: o.status, error: o.error, duration_ms: o.durationMs })
          .execute();
      }
      return due.length;
    });
  }
}
