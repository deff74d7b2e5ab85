import { client } from '$lib/api';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, depends }) => {
  depends('app:tokens');
  const api = client(fetch);
  // Admin routes: a non-admin caller gets the API's 403, shown by the error page.
  const [tokens, projects] = await Promise.all([api.tokens(), api.projects()]);
  return { tokens, projects };
};
