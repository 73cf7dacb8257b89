/**
 * The backfill: queue names and state keys (keys.ts), starting, listing and cancelling
 * (control.ts, the CLI's side), the workers that run jobs (worker.ts) and each feed's
 * page fetcher and normalizer (pages.ts).
 */
export * from './control.js';
export * from './keys.js';
export * from './worker.js';
