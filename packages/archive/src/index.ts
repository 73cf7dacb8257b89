export * from './record.js';
export * from './layout.js';
export * from './parquet.js';
export * from './manifest.js';
export * from './flush-plan.js';
export * from './partition-buffer.js';
export * from './reader.js';
