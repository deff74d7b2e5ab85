import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { LayoutLoad } from './$types';

export const load: LayoutLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  return { run: await client(fetch).getRun(params.id) };
};
