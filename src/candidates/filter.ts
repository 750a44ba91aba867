/**
 * The per-request exclusion filter: an item may be returned when the catalog can serve it now (present,
 * available, created, not expired) and the request has not excluded it — the user's consumed items (when
 * the surface excludes them), the user's hard negatives and blocked creators (always), the caller's
 * `exclude` ids, creators and tags, and the seed item. Exclusions are marked with a per-request stamp in a reused Uint32Array, so building the filter is
 * O(excluded) and each check O(1) without clearing anything between requests.
 */
import type { Catalog } from '../features/catalog.js';
import { ensureLength } from '../features/arrays.js';
import type { UserHistory } from '../features/history.js';
import type { CandidateFilter } from './types.js';

/** Bound on the tags one request may exclude (each allowed item is checked against all of them). */
export const MAX_EXCLUDED_TAGS = 100;

export class RequestFilter implements CandidateFilter {
  /** stamp: [items]; stamp[ix] === epoch ⇔ excluded in the current request. */
  private stamp = new Uint32Array(1024);
  private epoch = 0;
  private nowMs = 0;
  /** creatorStamp: [creators]; creatorStamp[c] === epoch ⇔ creator c excluded in the current request. */
  private creatorStamp = new Uint32Array(256);
  private creatorsExcluded = 0;
  /** excludedTags[0..tagsExcluded): tag ixs no returned item may carry. */
  private readonly excludedTags = new Int32Array(MAX_EXCLUDED_TAGS);
  private tagsExcluded = 0;

  constructor(private readonly catalog: Catalog) {}

  /** Starts a new request: clears all exclusions in O(1). */
  begin(nowMs: number): this {
    this.nowMs = nowMs;
    this.stamp = ensureLength(this.stamp, this.catalog.size);
    this.creatorStamp = ensureLength(this.creatorStamp, this.catalog.creators.size);
    if (++this.epoch === 0xffffffff) {
      this.stamp.fill(0);
      this.creatorStamp.fill(0);
      this.epoch = 1;
    }
    this.creatorsExcluded = 0;
    this.tagsExcluded = 0;
    return this;
  }

  /** Excludes every item of a creator ix (ignored when < 0). */
  excludeCreator(creatorIx: number): void {
    if (creatorIx < 0 || creatorIx >= this.creatorStamp.length || this.creatorStamp[creatorIx] === this.epoch) return;
    this.creatorStamp[creatorIx] = this.epoch;
    this.creatorsExcluded++;
  }

  /** Excludes every item carrying a tag ix (ignored when < 0). */
  excludeTag(tagIx: number): void {
    if (tagIx < 0) return;
    for (let k = 0; k < this.tagsExcluded; k++) if (this.excludedTags[k] === tagIx) return;
    if (this.tagsExcluded >= MAX_EXCLUDED_TAGS) throw new RangeError(`at most ${MAX_EXCLUDED_TAGS} excluded tags per request`);
    this.excludedTags[this.tagsExcluded++] = tagIx;
  }

  exclude(itemIx: number): void {
    if (itemIx >= 0 && itemIx < this.stamp.length) this.stamp[itemIx] = this.epoch;
  }

  /** Excludes the user's hard negatives, and the consumed items when `consumed` is true. */
  excludeHistory(h: UserHistory | undefined, consumed: boolean): void {
    if (!h) return;
    for (const ix of h.negative) this.exclude(ix);
    for (const c of h.blockedCreators) this.excludeCreator(c);
    if (consumed) for (const ix of h.consumed) this.exclude(ix);
  }

  allows(itemIx: number): boolean {
    if (this.stamp[itemIx] === this.epoch || !this.catalog.isServable(itemIx, this.nowMs)) return false;
    if (this.creatorsExcluded > 0) {
      const c = this.catalog.creatorIx[itemIx];
      if (c >= 0 && this.creatorStamp[c] === this.epoch) return false;
    }
    for (let k = 0; k < this.tagsExcluded; k++) if (this.catalog.hasTag(itemIx, this.excludedTags[k])) return false;
    return true;
  }
}
