/**
 * A small seeded PRNG (mulberry32): what a test generates depends on its seed alone. The
 * one of the dataset's test support, so suites and unit tests draw alike.
 */
export { prng as seededRandom } from '../../packages/dataset/src/test-support/bars.js';
