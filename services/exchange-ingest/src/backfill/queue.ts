/**
 * The backfill: queue names and state keys (keys.ts), starting, listing and cancelling
 * (control.ts, the CLI's side), the workers that run jobs (worker.ts) and each feed's
 * pager spec and page normalizer (pages.ts, over the fetchers of src/feeds/).
 */
export * from './control.js';
export * from './keys.js';
export * from './worker.js';
