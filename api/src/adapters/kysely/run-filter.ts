// The WHERE clause of a run list query, shared by its count and its page.
import { type ExpressionBuilder, sql } from 'kysely';
import type { Database, RunsTable } from '../../db/schema.js';
import type { RunQuery } from '../../domain/ports.js';

type RunsAs = ExpressionBuilder<Database & { r: RunsTable }, 'r'>;

/** The filters of a run query (labels `k` or `k=v`, text search with LIKE's specials taken literally). */
export function filterOf(q: Omit<RunQuery, 'limit' | 'cursor'>) {
  return (eb: RunsAs) => {
    const and = [];
    if (q.status?.length) and.push(eb('r.status', 'in', q.status));
    for (const l of q.label ?? []) {
      const eq = l.indexOf('=');
      let label = eb.selectFrom('run_labels as l').select('l.key').whereRef('l.run_id', '=', 'r.id');
      label = eq < 0 ? label.where('l.key', '=', l) : label.where('l.key', '=', l.slice(0, eq)).where('l.value', '=', l.slice(eq + 1));
      and.push(eb.exists(label));
    }
    if (q.submitter) and.push(eb('r.submitter', '=', q.submitter));
    if (q.project !== undefined) and.push(eb('r.project_id', '=', q.project));
    if (q.from) and.push(eb('r.created_at', '>=', sql<Date>`${q.from}`));
    if (q.to) and.push(eb('r.created_at', '<', sql<Date>`${q.to}`));
    if (q.q) {
      const p = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      and.push(
        eb.or([eb('r.name', 'ilike', p), eb('r.run_name', 'ilike', p), eb(sql`r.id::text`, 'ilike', p), eb('r.submitter', 'ilike', p)]),
      );
    }
    return eb.and(and);
  };
}
