import { client } from '$lib/api';
import { runDependency } from '$lib/run-data';
import { timelineData } from '$lib/timeline';
import type { PageLoad } from './$types';

/** The resource table lists the heaviest tasks; the timeline itself draws every task. */
const RESOURCE_ROWS = 100;

export const load: PageLoad = async ({ params, fetch, depends }) => {
  depends(runDependency(params.id));
  const api = client(fetch);
  const [timeline, heaviest] = await Promise.all([
    api.timeline(params.id),
    api.tasks(params.id, { limit: RESOURCE_ROWS, offset: 0, sort: 'peak_rss', order: 'desc' }),
  ]);
  // Open bars are drawn to the time of the load; the page reloads on every change of the run.
  return { timeline: timelineData(timeline.table), heaviest, now: Date.now() };
};
