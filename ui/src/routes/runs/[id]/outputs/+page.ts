import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  return { outputs: await client(fetch).outputs(params.id) };
};
