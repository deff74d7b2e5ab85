import { ApiError, client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  const api = client(fetch);
  // Provenance comes from the ingested manifest: none (409) until the run's results are in.
  const provenance = api.provenance(params.id).catch((e: unknown) => {
    if (e instanceof ApiError && e.status === 409) return null;
    throw e;
  });
  const [processes, prov] = await Promise.all([api.processes(params.id), provenance]);
  return { processes, provenance: prov };
};
