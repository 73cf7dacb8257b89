export * from './config.js';
export * from './logger.js';
export * from './retry.js';
export * from './progress.js';
export * from './time-flag.js';
export * from './crash-hook.js';
export * from './service.js';
export * from './node-flags.js';
