export * from './model.js';
export * from './symbols.js';
export * from './types.js';
export { roundTo } from './random.js';
