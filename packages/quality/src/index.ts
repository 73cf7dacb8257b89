export * from './rules.js';
export * from './config.js';
export * from './record-rules.js';
export * from './record-identity.js';
export * from './robust-stats.js';
export * from './dedupe-series.js';
export * from './candle-series.js';
export * from './symbol-quality.js';
