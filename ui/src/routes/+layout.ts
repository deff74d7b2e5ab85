// Client-side only: data comes from the API at run time, nothing is prerendered.
export const ssr = false;
export const prerender = false;
