import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

const LIMIT = 1000;

export const load: PageLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  return { limit: LIMIT, tasks: await client(fetch).tasks(params.id, { limit: LIMIT, offset: 0, sort: 'submit', order: 'asc' }) };
};
