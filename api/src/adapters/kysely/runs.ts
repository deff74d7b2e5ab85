// Runs (and their labels) on PostgreSQL. Status changes are guarded in SQL by the domain's RUN_STATUS_RANK.
import { sql, type Updateable } from 'kysely';
import type { RunsTable } from '../../db/schema.js';
import { DomainError } from '../../domain/errors.js';
import type { NewNextflowRun, NextflowKey, NextflowRun } from '../../domain/event-runs.js';
import { type NewRun, RUN_STATUS_RANK, type Run, type RunPatch, type RunQuery, type RunStatus } from '../../domain/ports.js';
import type { RunEventFacts, RunRepository } from '../../domain/repositories.js';
import { toRun, UUID } from './rows.js';
import { filterOf } from './run-filter.js';
import type { Scope } from './scope.js';

/** The domain's ranking as SQL, so a guarded UPDATE moves a run only forward. */
const RANK_SQL = `(CASE status ${Object.entries(RUN_STATUS_RANK)
  .map(([s, r]) => `WHEN '${s}' THEN ${r}`)
  .join(' ')} END)`;
const RANK_OF_STATUS = sql.raw(RANK_SQL);

const PATCH_COLUMNS: Record<keyof RunPatch, keyof RunsTable> = {
  commandLine: 'command_line',
  nativeId: 'native_id',
  errorMessage: 'error_message',
  exitStatus: 'exit_status',
  startedAt: 'started_at',
  completedAt: 'completed_at',
  launchDir: 'launch_dir',
  outdir: 'outdir',
  workDir: 'work_dir',
};

function columnsOf(patch: RunPatch): Updateable<RunsTable> {
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) set[PATCH_COLUMNS[k as keyof RunPatch]] = v;
  return set as Updateable<RunsTable>;
}

export class KyselyRunRepository implements RunRepository {
  constructor(private readonly s: Scope) {}

  /** Runs with their labels, the count of sequenced events and the seq of the end event (for delivery health). */
  private select() {
    return this.s.db
      .selectFrom('runs as r')
      .selectAll('r')
      .select((eb) => [
        sql<
          Record<string, string>
        >`COALESCE((SELECT jsonb_object_agg(l.key, l.value) FROM run_labels l WHERE l.run_id = r.id), '{}'::jsonb)`.as('labels'),
        eb
          .selectFrom('events as e')
          .select(eb.fn.countAll().as('n'))
          .whereRef('e.run_id', '=', 'r.id')
          .where('e.seq', 'is not', null)
          .as('seq_count'),
        eb
          .selectFrom('events as e')
          .select((e) => e.fn.max('e.seq').as('s'))
          .whereRef('e.run_id', '=', 'r.id')
          .where('e.event', '=', 'completed')
          .as('end_seq'),
      ]);
  }

  async create(r: NewRun): Promise<Run> {
    await this.s
      .transaction(async ({ db }) => {
        await db
          .insertInto('runs')
          .values({
            id: r.id,
            name: r.name,
            status: r.status,
            source: r.source,
            submitter: r.submitter ?? null,
            params: JSON.stringify(r.params ?? {}),
            profiles: r.profiles ?? [],
            samplesheet: r.samplesheet ?? null,
            launcher: r.launcher ?? null,
            launch_dir: r.launchDir ?? null,
            outdir: r.outdir ?? null,
            token_hash: r.tokenHash ?? null,
            resumed_from: r.resumedFrom ?? null,
            command_line: r.commandLine ?? null,
            owner: r.owner ?? null,
            project_id: r.project,
          })
          .execute();
        const labels = Object.entries(r.labels ?? {}).map(([key, value]) => ({ run_id: r.id, key, value }));
        if (labels.length) await db.insertInto('run_labels').values(labels).execute();
      })
      .catch((e) => {
        // runs_one_active_launch: another run is active in this launch directory.
        if ((e as { constraint?: string }).constraint === 'runs_one_active_launch')
          throw new DomainError('conflict', 'another run is active in this launch directory (a relaunch still running?)');
        throw e;
      });
    return (await this.get(r.id))!;
  }

  async setTokenHash(id: string, hash: string): Promise<void> {
    await this.s.db.updateTable('runs').set({ token_hash: hash, updated_at: new Date() }).where('id', '=', id).execute();
  }

  async get(id: string): Promise<Run | null> {
    if (!UUID.test(id)) return null;
    const r = await this.select().where('r.id', '=', id).executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async delete(id: string): Promise<void> {
    await this.s.db.deleteFrom('runs').where('id', '=', id).execute();
  }

  async list(q: RunQuery): Promise<{ items: Run[]; total: number }> {
    const filter = filterOf(q);
    const { n } = await this.s.db
      .selectFrom('runs as r')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(filter)
      .executeTakeFirstOrThrow();
    let page = this.select().where(filter);
    const c = q.cursor;
    if (c) page = page.where(sql<boolean>`(r.created_at, r.id) < (${c.createdAt}::timestamptz, ${c.id}::uuid)`);
    const rows = await page.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc').limit(q.limit).execute();
    return { items: rows.map(toRun), total: Number(n) };
  }

  async countByStatus(q: Omit<RunQuery, 'limit' | 'cursor'>): Promise<Partial<Record<RunStatus, number>>> {
    const rows = await this.s.db
      .selectFrom('runs as r')
      .select((eb) => ['r.status', eb.fn.countAll().as('n')])
      .where(filterOf(q))
      .groupBy('r.status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  async patch(id: string, patch: RunPatch): Promise<void> {
    const set = columnsOf(patch);
    if (!Object.keys(set).length) return;
    await this.s.db
      .updateTable('runs')
      .set({ ...set, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async advance(id: string, status: RunStatus, patch: RunPatch = {}): Promise<boolean> {
    const r = await this.s.db
      .updateTable('runs')
      .set({ ...columnsOf(patch), status, updated_at: sql`now()` })
      .where('id', '=', id)
      .where(sql<boolean>`${RANK_OF_STATUS} < ${RUN_STATUS_RANK[status]}`)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async active(launcher: string): Promise<Run[]> {
    const rows = await this.select().where('r.launcher', '=', launcher).where('r.status', 'in', ['SUBMITTED', 'RUNNING']).execute();
    return rows.map(toRun);
  }

  async byTokenHash(hash: string): Promise<{ id: string; project: string } | null> {
    const r = await this.s.db.selectFrom('runs').select(['id', 'project_id']).where('token_hash', '=', hash).executeTakeFirst();
    return r ? { id: r.id, project: r.project_id } : null;
  }

  async idsInProject(ids: string[], project: string): Promise<string[]> {
    if (!ids.length) return [];
    const rows = await this.s.db.selectFrom('runs').select('id').where('id', 'in', ids).where('project_id', '=', project).execute();
    return rows.map((r) => r.id);
  }

  async existingIds(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.s.db.selectFrom('runs').select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  async findNextflow(keys: NextflowKey[]): Promise<NextflowRun[]> {
    if (!keys.length) return [];
    const rows = await this.s.db
      .selectFrom('runs')
      .select(['id', 'session_id', 'run_name', 'owner', 'project_id'])
      .where((eb) =>
        eb(
          eb.refTuple('session_id', 'run_name'),
          'in',
          keys.map((k) => eb.tuple(k.sessionId, k.runName)),
        ),
      )
      .execute();
    return rows.map((r) => ({ id: r.id, sessionId: r.session_id!, runName: r.run_name!, owner: r.owner, project: r.project_id }));
  }

  async createNextflow(runs: NewNextflowRun[]): Promise<void> {
    if (!runs.length) return;
    await this.s.db
      .insertInto('runs')
      .values(
        runs.map((r) => ({
          id: sql<string>`gen_random_uuid()`,
          name: r.runName,
          status: 'RUNNING',
          source: 'weblog',
          session_id: r.sessionId,
          run_name: r.runName,
          owner: r.owner,
          project_id: r.project,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async bindNextflow(id: string, key: NextflowKey): Promise<void> {
    await this.s.db
      .updateTable('runs')
      .set({ session_id: key.sessionId, run_name: key.runName })
      .where('id', '=', id)
      .where('session_id', 'is', null)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('runs as o').select('o.id').where('o.session_id', '=', key.sessionId).where('o.run_name', '=', key.runName))),
      )
      .execute();
  }

  async lock(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.s.db.selectFrom('runs').select('id').where('id', 'in', ids).orderBy('id').forUpdate().execute();
  }

  async addEventFacts(id: string, a: RunEventFacts): Promise<void> {
    const f = a.facts;
    // Raw: every column has its own rule (counters add up, first facts stick, later ones replace, status only rises),
    // which reads plainer as one statement than as builder expressions.
    await this.s.sql.query(
      `UPDATE runs SET events_received = events_received + $2, last_event_at = GREATEST(last_event_at, $3::timestamptz),
         max_seq = CASE WHEN $4::int IS NULL THEN max_seq ELSE GREATEST(max_seq, $4::int) END,
         status = CASE WHEN $5::text IS NOT NULL AND ${RANK_SQL} < $6::int THEN $5::text ELSE status END,
         started_at = COALESCE(started_at, $7::timestamptz), completed_at = COALESCE($8::timestamptz, completed_at),
         command_line = COALESCE(command_line, $9), nextflow_version = COALESCE($10, nextflow_version),
         launch_dir = COALESCE(launch_dir, $11), work_dir = COALESCE(work_dir, $12), outdir = COALESCE(outdir, $13),
         params = CASE WHEN $14::jsonb IS NOT NULL AND params = '{}'::jsonb THEN $14::jsonb ELSE params END,
         error_message = COALESCE($15, error_message), exit_status = COALESCE($16, exit_status),
         profiles = CASE WHEN $17::text IS NOT NULL AND profiles = '{}' THEN string_to_array($17::text, ',') ELSE profiles END,
         updated_at = now()
       WHERE id = $1`,
      [
        id,
        a.events,
        a.lastEventAt.toISOString(),
        a.maxSeq,
        a.status,
        a.status === null ? null : RUN_STATUS_RANK[a.status],
        f.startedAt ?? null,
        f.completedAt ?? null,
        f.commandLine ?? null,
        f.nextflowVersion ?? null,
        f.launchDir ?? null,
        f.workDir ?? null,
        f.outdir ?? null,
        f.params ? JSON.stringify(f.params) : null,
        f.errorMessage ?? null,
        f.exitStatus ?? null,
        f.profile ?? null,
      ],
    );
  }
}
