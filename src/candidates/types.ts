/**
 * The candidate-generation contract: a source proposes item ixs with scores for one request context,
 * writing into caller-owned typed arrays (no per-item allocation), best first, already filtered by the
 * request's exclusion filter so that quotas count only usable items.
 */

/** Decides per request which item ixs may be returned (servable, not consumed, not disliked, not excluded). */
export interface CandidateFilter {
  allows(itemIx: number): boolean;
}

export interface CandidateContext {
  nowMs: number;
  /** -1 for an unknown (cold) user. */
  userIx: number;
  filter: CandidateFilter;
  /** Seed items for item-to-item sources: seedItems[0..seedCount) with weights seedWeights[0..seedCount). */
  seedItems: Int32Array;
  seedWeights: Float32Array;
  seedCount: number;
}

/** Output buffer of a source: items[0..count) and scores[0..count), descending by score. */
export class CandidateBuffer {
  /** items: [capacity] item ixs. */
  readonly items: Int32Array;
  /** scores: [capacity] source-specific scores, finite, descending. */
  readonly scores: Float32Array;
  count = 0;
  constructor(readonly capacity: number) {
    this.items = new Int32Array(capacity);
    this.scores = new Float32Array(capacity);
  }
}

export interface CandidateSource {
  /** Stable name, reported per item in `sources` and as a model-version key. */
  readonly name: string;
  /** Writes up to n (≤ out.capacity) candidates into out, best first; sets out.count. */
  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void;
}
