import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import { timelineData } from '$lib/timeline';
import type { PageLoad } from './$types';

/** The resource table lists the heaviest tasks; the timeline itself draws every task. */
const RESOURCE_ROWS = 100;

export const load: PageLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  const api = client(fetch);
  // Not awaited: the table of the heaviest tasks (a sort of the whole run) arrives after the timeline is drawn.
  const heaviest = api.tasks(params.id, { limit: RESOURCE_ROWS, offset: 0, sort: 'peak_rss', order: 'desc' });
  // Marked handled here: the page's {#await} shows a failure, which may come before the page renders.
  heaviest.catch(() => undefined);
  const timeline = await api.timeline(params.id);
  // Open bars are drawn to the time of the load; the page reloads on every change of the run.
  return { timeline: timelineData(timeline.table), heaviest, now: Date.now() };
};
