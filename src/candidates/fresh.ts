/**
 * Fresh: the newest servable items. Score = 2^{-age/halfLife} · (1 + popularityWeight · ln(1 + trending⁺)),
 * i.e. recency first, lightly lifted by early engagement so a new item people already play outranks an
 * equally new one nobody touched. Items scheduled in the future or expired are excluded by the filter.
 *
 * The scan walks the catalog newest first (Catalog.newestFirst, kept sorted as items arrive) ranking by
 * log2(score) + now/halfLife = createdAt/halfLife + log2(lift), and stops as soon as even the largest
 * possible lift could not bring the next (older) item above the current top-n threshold — a request reads
 * the newest few hundred items, not the catalog.
 */
import type { Catalog } from '../features/catalog.js';
import type { DecayedCounters } from '../features/decay.js';
import { TopK } from './topk.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

export interface FreshConfig {
  halfLifeMs: number;
  popularityWeight: number;
}

export class FreshSource implements CandidateSource {
  readonly name = 'fresh';
  private readonly top: TopK;

  constructor(
    private readonly catalog: Catalog,
    private readonly counters: DecayedCounters,
    private readonly config: FreshConfig,
    capacity: number,
  ) {
    this.top = new TopK(capacity);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    const top = this.top;
    top.reset(Math.min(n, out.capacity));
    const order = this.catalog.newestFirst();
    const created = this.catalog.createdAtMs;
    const counters = this.counters;
    const factor = counters.factorAt(ctx.nowMs);
    const invHalfLife = 1 / this.config.halfLifeMs;
    const beta = this.config.popularityWeight;
    const maxLift = Math.log2(1 + beta * Math.log1p(Math.max(0, counters.maxKey * factor)));
    for (let k = 0; k < order.length; k++) {
      const ix = order[k];
      const recency = created[ix] * invHalfLife; // log2 of the recency factor, up to the common now/halfLife
      if (recency + maxLift <= top.threshold) break; // every later item is older
      if (!ctx.filter.allows(ix)) continue;
      const pop = counters.key(ix) * factor;
      const key = pop > 0 ? recency + Math.log2(1 + beta * Math.log1p(pop)) : recency;
      if (key > top.threshold) top.push(ix, key);
    }
    const count = top.count;
    top.drainInto(out, 1, ctx.nowMs * invHalfLife); // log2(score), small numbers: no float32 precision loss
    for (let k = 0; k < count; k++) out.scores[k] = Math.pow(2, out.scores[k]);
  }
}
