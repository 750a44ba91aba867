/**
 * The contract between models, the eval harness and the training jobs (src/train). Models see only typed
 * arrays: no store, no HTTP, no files (checkpoint paths are passed in; the registry writes artifacts).
 * Every model implements `Model` (fit, score, save as artifacts, load from them — Gorse's
 * fit/predict/marshal), and is listed once in the model table (index.ts) with its loader.
 */
import type { Sequences } from '../core/dataset.js';
import type { Tensor } from '../core/tensor.js';

export interface ItemSideInfo {
  tags?: string[][];
  titles?: string[];
  creators?: (string | undefined)[];
}

export interface FitProgress {
  epoch?: number;
  step?: number;
  loss?: number;
  /** Validation metrics measured so far, e.g. { 'NDCG@10': 0.12 }. */
  valid?: Record<string, number>;
  elapsedSeconds: number;
  message?: string;
}

export interface FitContext {
  /** Training sequences (for loo-full: each user's items except the last two), oldest first. */
  train: Sequences;
  /**
   * Validation targets per user: validTargets[userIx] is the held-out item for early stopping and
   * hyper-parameter choice, or -1 when the user has none. The history for a validation query is train.
   */
  validTargets: Int32Array;
  side?: ItemSideInfo;
  seed: number;
  /** Wall-clock budget for training; models stop early (keeping their best validation state) when it runs out. */
  maxMinutes?: number;
  /** Number of worker threads the model may use (defaults to the machine's cores). */
  threads?: number;
  /** Directory for checkpoints (resumable training); absent means no checkpoints. */
  checkpointDir?: string;
  onProgress?: (p: FitProgress) => void;
  /** Model-specific hyper-parameter overrides (validated by the model's own zod schema). */
  params?: Record<string, unknown>;
  /**
   * Warm start: a previous version's artifacts over the same item indexes (the caller checks the id lists
   * match). A model that supports it starts from these weights where their shapes match its own and says
   * so in FitReport.warmStart; otherwise it starts cold.
   */
  init?: SavedModel;
}

export interface FitReport {
  /** Hyper-parameters actually used (after validation-based selection). */
  params: Record<string, unknown>;
  epochs?: number;
  /** Best validation metrics. */
  valid?: Record<string, number>;
  trainSeconds: number;
  /** How the fit started when FitContext.init was given: from those weights, or cold (shapes differ, unsupported). */
  warmStart?: 'warm' | 'cold';
}

export interface Recommender {
  readonly name: string;
  fit(ctx: FitContext): Promise<FitReport>;
  /**
   * Scores every item for a block of users.
   * histories: sequences indexed by userIx, the input the model conditions on (for the test query of
   *   loo-full, train + the validation item).
   * userIxs: [B] users to score.
   * out: [B, numItems] row-major; higher is better. Items in the user's history are masked by the caller.
   */
  scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): void | Promise<void>;
  /** Frees worker threads and native memory. */
  dispose?(): Promise<void> | void;
}

/** What a model saves: JSON-able config (hyper-parameters and shapes) and named flat tensors. */
export interface SavedModel {
  config: Record<string, unknown>;
  weights: Record<string, Tensor>;
}

/** The one model contract: fit, score, save, load (via its `ModelKind`), free. */
export interface Model extends Recommender {
  /** The fitted state, enough for ModelKind.fromArtifacts to score identically. */
  toArtifacts(): SavedModel;
  /** L2-normalised item vectors [numItems, D], for models with an item embedding space (the ANN source). */
  itemEmbeddings?(): Float32Array;
  dispose(): Promise<void> | void;
}

/** A registered model: how to build it fresh and how to load a saved one. */
export interface ModelKind {
  create(params?: Record<string, unknown>): Model;
  /** Rebuilds a fitted model from toArtifacts() output; throws ValidationError when shapes disagree. */
  fromArtifacts(saved: SavedModel): Model;
  /** The engine serves this model's active version, so the trainer keeps it fresh by default. */
  served?: boolean;
}
