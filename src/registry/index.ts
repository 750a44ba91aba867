/**
 * The model registry's public door: versioned model artifacts on disk, atomic activation, change
 * notifications. Trainers (src/train, the CLI) add versions and activate; serving (src/engine/models.ts)
 * reads the active ones and follows changes. It stores tensors and files; it never trains.
 */
export { DEFAULT_VALIDATION_METRIC, ModelRegistry, type ActiveRecord, type ModelArtifacts, type VersionInfo } from './registry.js';
export type { Tensor } from '../core/tensor.js';
