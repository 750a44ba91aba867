/**
 * The per-request exclusion filter: an item may be returned when the catalog can serve it now (present,
 * available, created, not expired) and the request has not excluded it — the user's consumed items (when
 * the surface excludes them), the user's hard negatives (always), the caller's `exclude` ids and the seed
 * item. Exclusions are marked with a per-request stamp in a reused Uint32Array, so building the filter is
 * O(excluded) and each check O(1) without clearing anything between requests.
 */
import type { Catalog } from '../features/catalog.js';
import { ensureLength } from '../features/arrays.js';
import type { UserHistory } from '../features/history.js';
import type { CandidateFilter } from './types.js';

export class RequestFilter implements CandidateFilter {
  /** stamp: [items]; stamp[ix] === epoch ⇔ excluded in the current request. */
  private stamp = new Uint32Array(1024);
  private epoch = 0;
  private nowMs = 0;

  constructor(private readonly catalog: Catalog) {}

  /** Starts a new request: clears all exclusions in O(1). */
  begin(nowMs: number): this {
    this.nowMs = nowMs;
    this.stamp = ensureLength(this.stamp, this.catalog.size);
    if (++this.epoch === 0xffffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    return this;
  }

  exclude(itemIx: number): void {
    if (itemIx >= 0 && itemIx < this.stamp.length) this.stamp[itemIx] = this.epoch;
  }

  /** Excludes the user's hard negatives, and the consumed items when `consumed` is true. */
  excludeHistory(h: UserHistory | undefined, consumed: boolean): void {
    if (!h) return;
    for (const ix of h.negative) this.exclude(ix);
    if (consumed) for (const ix of h.consumed) this.exclude(ix);
  }

  allows(itemIx: number): boolean {
    return this.stamp[itemIx] !== this.epoch && this.catalog.isServable(itemIx, this.nowMs);
  }
}
