/**
 * The contract between offline models and the eval harness (and, later, training jobs).
 * Models see only typed arrays: no store, no HTTP, no files (checkpoint paths are passed in).
 */
import type { Sequences } from '../core/dataset.js';

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
}

export interface FitReport {
  /** Hyper-parameters actually used (after validation-based selection). */
  params: Record<string, unknown>;
  epochs?: number;
  /** Best validation metrics. */
  valid?: Record<string, number>;
  trainSeconds: number;
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
