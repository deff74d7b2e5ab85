import { client } from '$lib/api';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, depends }) => {
  depends('app:webhooks');
  const api = client(fetch);
  const hooks = await api.webhooks();
  // The delivery log sits beside each subscription: where an operator looks when a LIMS says it heard nothing.
  const deliveries = Object.fromEntries(await Promise.all(hooks.map(async (h) => [h.id, await api.deliveries(h.id)] as const)));
  return { hooks, deliveries };
};
