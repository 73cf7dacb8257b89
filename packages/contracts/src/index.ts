export * from './errors.js';
export * from './exchanges.js';
export * from './time.js';
export * from './schemas.js';
export * from './parse.js';
export * from './topics.js';
export * from './json-schema.js';
export * from './samples.js';
