export * from './clock.js';
export * from './config.js';
export * from './faults/faults.js';
export * from './market/index.js';
export * from './server.js';
export type { VenueId } from './venues/types.js';
