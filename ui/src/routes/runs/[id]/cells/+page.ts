import { client } from '$lib/api';
import { initialColour } from '$lib/cells';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

// Depends on the run, so the embedding loads by itself when the run completes while the page is open.
export const load: PageLoad = async ({ params, url, fetch, depends, parent }) => {
  depends(runDependency(params.id));
  const { run } = await parent();
  if (run.status !== 'COMPLETED') return { cells: null };
  const colour = initialColour(url.searchParams.get('colour'));
  const { table, bytes } = await client(fetch).cells(params.id, ['umap_x', 'umap_y', colour]);
  return { cells: { table, bytes, colour } };
};
