import type { Table } from 'apache-arrow';
import { client } from '$lib/api';
import { colourChoices, initialColour } from '$lib/cells';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

type Cells = { table: Table; bytes: number; colour: string };
// Every change to the run re-runs this load; the embedding (megabytes) is fetched again only when the run's
// results were ingested anew, and the view keeps its zoom and selection meanwhile.
let last: { key: string; cells: Promise<Cells> } | null = null;

// Depends on the run, so the embedding loads by itself when the run completes while the page is open.
export const load: PageLoad = async ({ params, url, fetch, depends, parent }) => {
  depends(runDependency(params.id));
  const { run } = await parent();
  if (run.status !== 'COMPLETED') return { cells: null, choices: colourChoices(null), outputs: [], markers: null };
  // The integration block names the run's clusterings (one cells column per Leiden resolution); a run without one
  // still shows its cells with the fixed choices.
  const choices = colourChoices(
    await client(fetch)
      .integration(params.id)
      .catch(() => null),
  );
  const colour = initialColour(url.searchParams.get('colour'), choices);
  const key = `${run.id}\n${run.resultsIngestedAt ?? ''}\n${colour}`;
  if (last?.key !== key) {
    const cells = client(fetch)
      .cells(params.id, ['umap_x', 'umap_y', colour])
      .then(({ table, bytes }) => ({ table, bytes, colour }));
    last = { key, cells };
    cells.catch(() => {
      if (last?.cells === cells) last = null;
    });
  }
  // The file links and the marker genes are extras: without them the embedding still shows.
  const [outputs, markers] = await Promise.all([
    client(fetch)
      .outputs(params.id)
      .catch(() => []),
    client(fetch)
      .markers(params.id)
      .catch(() => null),
  ]);
  return { cells: await last.cells, choices, outputs, markers };
};
