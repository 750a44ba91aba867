/**
 * Trending: items ranked by time-decayed weighted engagement (features' forward-decayed counters, half-life
 * from config). Negative feedback lowers an item; only items with a positive decayed value are proposed.
 * A full scan over the item counters per request: O(items) comparisons, no exponentials (forward-decay keys
 * order like the decayed values), bounded top-n heap.
 */
import type { Catalog } from '../features/catalog.js';
import type { DecayedCounters } from '../features/decay.js';
import { TopK } from './topk.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

export class TrendingSource implements CandidateSource {
  readonly name = 'trending';
  private readonly top: TopK;

  constructor(private readonly catalog: Catalog, private readonly counters: DecayedCounters, capacity: number) {
    this.top = new TopK(capacity);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    const top = this.top;
    top.reset(Math.min(n, out.capacity));
    const size = this.catalog.size;
    for (let ix = 0; ix < size; ix++) {
      const key = this.counters.key(ix);
      if (key <= 0 || key <= top.threshold) continue;
      if (!ctx.filter.allows(ix)) continue;
      top.push(ix, key);
    }
    top.drainInto(out, this.counters.factorAt(ctx.nowMs));
  }
}
