// Bounds on what one client can make the API hold in memory or recurse into (documented in api/README.md).

/** Deepest JSON nesting any request body may have; no schema needs more, and deeper input only reaches recursion. */
export const MAX_JSON_DEPTH = 64;
/** Default JSON body limit: the largest launch request (samplesheet maxLength 10,000,000 characters plus params). */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** POST /events: up to 100,000 events (the schema's maxItems) of a few hundred bytes, or ~2,000 nf-weblog events with exploded dates. */
export const EVENTS_BODY_LIMIT = 64 * 1024 * 1024;
/** A log follower's unsent bytes above which the next chunk is not read until the socket drains. */
export const FOLLOW_BUFFER_LIMIT = 4 * 1024 * 1024;
/** How long a log follower may stay over FOLLOW_BUFFER_LIMIT before it is dropped (it can reconnect with ?offset=). */
export const FOLLOW_STALL_MS = 10_000;
/** Rows per store query of a CSV export: one page is all the export holds besides the socket buffer. */
export const CSV_PAGE_ROWS = 1_000;
