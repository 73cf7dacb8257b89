export * from './client.js';
export * from './object-store.js';
export * from './timed-store.js';
