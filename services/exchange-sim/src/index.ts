export * from './clock.js';
export * from './config.js';
export * from './faults/faults.js';
export * from './market/index.js';
export * from './server.js';
export type { VenueId } from './venues/types.js';
/** Hyperliquid facts of the simulator (price rule, hourly funding), for tests that compare the ingest against the model. */
export { hourlyFunding, hyperliquidPx } from './venues/hyperliquid.js';
