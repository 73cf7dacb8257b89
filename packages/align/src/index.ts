export * from './config.js';
export * from './input-series.js';
export * from './align-stream.js';
export * from './emission-table.js';
