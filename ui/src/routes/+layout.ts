// Client-side only: data comes from the API at run time, nothing is prerendered.
export const ssr = false;
export const prerender = false;

import { api } from '$lib/api';

/** The session (project, sign-in) for the header and the launch form; reloaded with everything after a sign-in. */
export async function load({ depends }: { depends: (dep: string) => void }) {
  depends('app:session');
  return { session: await api.session().catch(() => null) };
}
