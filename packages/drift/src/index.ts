export * from './compare.js';
export * from './errors.js';
export * from './statistics/ks.js';
export * from './statistics/psi.js';
export * from './statistics/wasserstein.js';
export * from './cross-venue.js';
export * from './features.js';
