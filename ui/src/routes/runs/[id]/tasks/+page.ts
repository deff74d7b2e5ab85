// The table's filters, sort and page live in the URL (?process=&tag=&status=&sort=&order=&offset=), so this load
// re-runs when they change, a view can be linked, and Back restores it.
import { client, type TaskQuery } from '$lib/api';
import { runDependency } from '$lib/run-data';
import type { PageLoad } from './$types';

const PAGE = 25;

interface TaskView {
  process: string;
  tag: string;
  status: string;
  sort: NonNullable<TaskQuery['sort']>;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

function viewOf(url: URL): TaskView {
  const q = url.searchParams;
  return {
    process: q.get('process') ?? '',
    tag: q.get('tag') ?? '',
    status: q.get('status') ?? '',
    sort: (q.get('sort') ?? 'task_id') as TaskView['sort'],
    order: q.get('order') === 'desc' ? 'desc' : 'asc',
    offset: Math.max(0, Number(q.get('offset')) || 0),
    limit: PAGE,
  };
}

export const load: PageLoad = async ({ params, url, fetch, depends }) => {
  depends(runDependency(params.id));
  const view = viewOf(url);
  const query: TaskQuery = { limit: view.limit, offset: view.offset, sort: view.sort, order: view.order };
  // The API's `like` is already a contains-match (it escapes % and _), so the text goes as typed; status is exact.
  if (view.process) query.process = `like:${view.process}`;
  if (view.tag) query.tag = `like:${view.tag}`;
  if (view.status) query.status = view.status;
  return { view, tasks: await client(fetch).tasks(params.id, query) };
};
