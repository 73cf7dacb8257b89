export * from './config.js';
export * from './logger.js';
export * from './retry.js';
export * from './progress.js';
