// Where the route families are mounted: the platform's own API and GA4GH WES.
export const API_PREFIX = '/api/v1';
export const WES_PREFIX = '/ga4gh/wes/v1';
