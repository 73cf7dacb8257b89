export * from './client.js';
export * from './object-store.js';
