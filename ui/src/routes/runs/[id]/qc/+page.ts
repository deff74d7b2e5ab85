import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

/** A section's data or why it is missing: one absent output must not blank the whole page. */
type Section<T> = { data: T; error: null } | { data: null; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Section<T>> =>
  p.then(
    (data) => ({ data, error: null }),
    (error: unknown) => ({ data: null, error }),
  );

export const load: PageLoad = async ({ params, fetch, depends, parent }) => {
  depends(runDependency(params.id));
  const { run } = await parent();
  // Results are ingested when a run ends; a failed run may still have some.
  if (run.status !== 'COMPLETED' && run.status !== 'FAILED') return { qc: null };
  const api = client(fetch);
  const [samples, integration, cells, ranks, outputs] = await Promise.all([
    settle(api.samples(params.id)),
    settle(api.integration(params.id)),
    settle(api.cells(params.id, ['sample', 'n_genes', 'total_counts', 'pct_counts_mt']).then((r) => r.table)),
    settle(api.barcodeRanks(params.id).then((r) => r.table)),
    settle(api.outputs(params.id)),
  ]);
  return { qc: { samples, integration, cells, ranks, outputs } };
};
