export * from './registry.js';
export * from './server.js';
export { Counter, Gauge, Histogram, type Registry } from 'prom-client';
export * from './freshness.js';
