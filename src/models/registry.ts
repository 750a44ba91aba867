/** Moved to src/registry/ (its own stage: artifacts and activation, not model math); kept for old imports. */
export * from '../registry/index.js';
