/**
 * Same-creator items for the seed items, ranked by trending value (plus a small constant so a creator's
 * untouched new items still appear). It answers `similar` for items too new to have co-occurrences — the
 * cold-start case collaborative signals cannot cover.
 */
import type { Catalog } from '../features/catalog.js';
import type { DecayedCounters } from '../features/decay.js';
import { TopK } from './topk.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

/** Items examined per seed's creator (bound for prolific creators). */
const MAX_CREATOR_ITEMS = 5_000;

export class CreatorSource implements CandidateSource {
  readonly name = 'creator';
  private readonly top: TopK;

  constructor(private readonly catalog: Catalog, private readonly counters: DecayedCounters, capacity: number) {
    this.top = new TopK(capacity);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    const top = this.top;
    top.reset(Math.min(n, out.capacity));
    const factor = this.counters.factorAt(ctx.nowMs);
    const creatorOf = this.catalog.creatorIx;
    for (let s = 0; s < ctx.seedCount; s++) {
      let seen = false; // one pass per creator, so no item enters the heap twice
      for (let r = 0; r < s; r++) if (creatorOf[ctx.seedItems[r]] === creatorOf[ctx.seedItems[s]]) seen = true;
      if (seen) continue;
      const items = this.catalog.creatorItems(ctx.seedItems[s]);
      const w = ctx.seedWeights[s];
      const m = Math.min(items.length, MAX_CREATOR_ITEMS);
      for (let k = items.length - m; k < items.length; k++) {
        const ix = items[k];
        if (!ctx.filter.allows(ix)) continue;
        const score = w * (1 + Math.log1p(Math.max(0, this.counters.key(ix) * factor)));
        if (score > top.threshold) top.push(ix, score);
      }
    }
    top.drainInto(out);
  }
}
