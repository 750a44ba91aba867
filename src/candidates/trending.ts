/**
 * Trending: items ranked by time-decayed weighted engagement (features' forward-decayed counters, half-life
 * from config). Negative feedback lowers an item; only items with a positive decayed value are proposed.
 * Reads the maintained top list (features/toplist.ts) in order and stops after n servable items; only when
 * the filter rejects so many that the list runs out does it scan every counter (O(items) comparisons, no
 * exponentials: forward-decay keys order like the decayed values, bounded top-n heap). An inexact list
 * (after negative feedback) is rebuilt at most once per REBUILD_INTERVAL_MS of wall time.
 */
import type { Catalog } from '../features/catalog.js';
import type { DecayedCounters } from '../features/decay.js';
import type { TopList } from '../features/toplist.js';
import { TopK } from './topk.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

const REBUILD_INTERVAL_MS = 1_000;

export class TrendingSource implements CandidateSource {
  readonly name = 'trending';
  private readonly top: TopK;

  /** Full scans run (the list could not answer); for tests and metrics. */
  scans = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly counters: DecayedCounters,
    capacity: number,
    private readonly list?: TopList,
  ) {
    this.top = new TopK(capacity);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    const list = this.list;
    if (list) {
      const wallMs = performance.now();
      if (list.inexact && wallMs - list.lastRebuildMs >= REBUILD_INTERVAL_MS) list.rebuild(this.catalog.size, (ix) => this.counters.key(ix), wallMs);
      const want = Math.min(n, out.capacity);
      const factor = this.counters.factorAt(ctx.nowMs);
      let c = 0;
      for (let k = 0; k < list.count && c < want; k++) {
        const key = list.keys[k];
        if (key <= 0) break;
        const ix = list.items[k];
        if (!ctx.filter.allows(ix)) continue;
        out.items[c] = ix;
        out.scores[c++] = key * factor;
      }
      out.count = c;
      if (c === want || list.count < list.capacity) return;
    }
    this.scans++;
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
