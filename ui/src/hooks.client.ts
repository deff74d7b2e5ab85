// Loads throw the API client's errors as they are: keep their message (the API's own) for the error page
// instead of SvelteKit's generic "Internal Error".
import type { HandleClientError } from '@sveltejs/kit';
import { ApiError } from '$lib/api';

export const handleError: HandleClientError = ({ error }) => ({
  message: error instanceof Error ? error.message : String(error),
  apiStatus: error instanceof ApiError ? error.status : undefined,
});
