/**
 * The learned ranker on the served path: the merged pool as the ranker sees it (per-source raw scores),
 * its feature rows, the re-ordered pool and the ranker's explanation of an item. One instance per engine;
 * its buffers are reused by every request (requests run synchronously between awaits).
 */
import { MAX_TIERS, type MergedList, type MergeTier } from '../candidates/index.js';
import type { UserHistory } from '../features/index.js';
import { MultiObjectiveRanker, NUM_RANK_FEATURES, RANK_FEATURES, RankFeatures, type PoolView } from '../rank/index.js';

export class PoolRanking {
  ranker: MultiObjectiveRanker | undefined;
  version = '';
  /** Trained on the learned blend's pools: re-orders only those; otherwise only heuristic pools. */
  onLearnedPools = false;
  /** x: [capacity, F] feature rows of the pool; score/order: [capacity]. */
  readonly x: Float32Array;
  private readonly score: Float32Array;
  private readonly order: Int32Array;
  /** rawColumn[c]: [capacity] raw scores of the c-th distinct source name of the pool. */
  private readonly rawColumn: Float32Array[] = [];

  constructor(
    private readonly features: RankFeatures,
    capacity: number,
  ) {
    this.x = new Float32Array(capacity * NUM_RANK_FEATURES);
    this.score = new Float32Array(capacity);
    this.order = new Int32Array(capacity);
    for (let t = 0; t < MAX_TIERS; t++) this.rawColumn.push(new Float32Array(capacity));
  }

  set(ranker: MultiObjectiveRanker | undefined, version: string, onLearnedPools: boolean): void {
    this.ranker = ranker;
    this.version = version;
    this.onLearnedPools = onLearnedPools;
  }

  /** Does the ranker re-order this pool? (It personalises home and next, on the kind of pool it was trained on.) */
  applies(surface: string, learnedPool: boolean): boolean {
    return this.ranker !== undefined && (surface === 'home' || surface === 'next') && learnedPool === this.onLearnedPools;
  }

  /** Fills x with the pool's feature rows. */
  fill(h: UserHistory | undefined, merged: MergedList, tiers: MergeTier[], surface: string, nowMs: number): void {
    this.features.fill(h, this.poolView(merged, tiers), surface, nowMs, this.x);
  }

  /**
   * Scores the merged pool and writes it, best first, into items/scores (scores mapped to (0, 1] by
   * exp(s − best), order-preserving, so re-ranking treats them like merge scores) with origin[] pointing
   * back at the merged positions.
   */
  apply(h: UserHistory | undefined, merged: MergedList, tiers: MergeTier[], surface: string, nowMs: number, items: Int32Array, scores: Float32Array, origin: Int32Array): void {
    const m = merged.count;
    this.fill(h, merged, tiers, surface, nowMs);
    this.ranker!.score(this.x, m, this.score);
    const order = this.order.subarray(0, m);
    for (let k = 0; k < m; k++) order[k] = k;
    const sc = this.score;
    order.sort((a, b) => sc[b] - sc[a] || a - b);
    const best = m > 0 ? sc[order[0]] : 0;
    for (let k = 0; k < m; k++) {
      const o = order[k];
      origin[k] = o;
      items[k] = merged.items[o];
      scores[k] = Math.exp(sc[o] - best);
    }
  }

  /** The ranker's view of merged position m (after apply): predicted outcome probabilities and the main features. */
  explain(m: number): Record<string, unknown> {
    const ranker = this.ranker!;
    const F = NUM_RANK_FEATURES;
    const x = this.x;
    const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;
    const outcomes: Record<string, number> = {};
    ranker.config.outcomes.forEach((o, k) => (outcomes[o] = r4(ranker.probability(x, m, k))));
    // Main features: largest |standardised value × weight| for the first outcome.
    const contrib = Array.from({ length: F }, (_, j) => ({
      feature: RANK_FEATURES[j],
      value: r4(x[m * F + j]),
      contribution: r4(ranker.w[j] * (x[m * F + j] - ranker.mean[j]) * ranker.invStd[j]),
    }));
    contrib.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    return { score: r4(this.score[m]), outcomes, mainFeatures: contrib.slice(0, 5) };
  }

  /** The merged pool as the ranker sees it: per distinct source name, its raw scores and best score. */
  private poolView(merged: MergedList, tiers: MergeTier[]): PoolView {
    const sources: PoolView['sources'] = [];
    const seen = new Map<string, number>();
    for (let t = 0; t < tiers.length; t++) {
      const name = merged.sourceNames[t];
      let col = seen.get(name);
      if (col === undefined) {
        col = sources.length;
        seen.set(name, col);
        const raw = this.rawColumn[col];
        raw.fill(NaN, 0, merged.count);
        sources.push({ name, raw, best: 0 });
      }
      const src = sources[col];
      for (let k = 0; k < merged.count; k++) {
        const v = merged.rawScores[k * MAX_TIERS + t];
        if (Number.isNaN(v) || !Number.isNaN(src.raw[k])) continue;
        src.raw[k] = v;
        if (v > src.best) src.best = v;
      }
    }
    return { count: merged.count, items: merged.items, merged: merged.scores, sources };
  }
}
