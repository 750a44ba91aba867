/**
 * A maintained top list: the K items with the largest keys (trending's forward-decayed counters), kept
 * sorted as keys change, so a request reads the best items in order instead of scanning the catalog.
 *
 * Forward-decay keys only grow with positive events and never decay (decay is applied at read time), so
 * an update either moves a member up (insertion step) or lets a new item replace the last member. A key
 * that decreases (negative feedback, a deleted item, a counter rebase) can let a non-member overtake a
 * member. The list remembers the largest key it ever turned away (outsideMax, an upper bound of every
 * non-member's key): a member that stays at or above it keeps the list exact; one that falls below marks
 * it inexact, and `rebuild` restores it by one full scan, which the reader runs at most once a second
 * (the order among members is always exact).
 */
import { ensureLength } from './arrays.js';

export class TopList {
  /** items/keys: [capacity] members, keys descending; valid in [0, count). */
  readonly items: Int32Array;
  readonly keys: Float64Array;
  count = 0;
  /** posOf: [items] position of an item in the list, -1 when not a member. */
  private posOf = new Int32Array(1024).fill(-1);
  /** True when some non-member may rank above a member (after a key decreased). */
  inexact = false;
  lastRebuildMs = -Infinity;
  /** Upper bound of every non-member's key (the largest key turned away or evicted since the last rebuild). */
  private outsideMax = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`top list capacity must be ≥ 1, got ${capacity}`);
    this.items = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
  }

  /** Records that item ix's key is now `key`. O(1) unless it moves, then O(distance moved). */
  update(ix: number, key: number): void {
    if (ix >= this.posOf.length) this.posOf = ensureLength(this.posOf, ix + 1, -1);
    let p = this.posOf[ix];
    if (p < 0) {
      if (key <= 0) return;
      if (this.count < this.capacity) p = this.count++;
      else {
        const last = this.count - 1;
        if (!this.before(key, ix, this.keys[last], this.items[last])) {
          if (key > this.outsideMax) this.outsideMax = key;
          return;
        }
        if (this.keys[last] > this.outsideMax) this.outsideMax = this.keys[last];
        this.posOf[this.items[last]] = -1;
        p = last;
      }
      this.items[p] = ix;
      this.keys[p] = key;
      this.posOf[ix] = p;
    } else {
      const old = this.keys[p];
      this.keys[p] = key;
      if (key < old) {
        if (key < this.outsideMax) this.inexact = true;
        this.siftDown(p);
        return;
      }
    }
    this.siftUp(p);
  }

  /** Ranks (key a, item ia) before (key b, item ib): larger key first, then the smaller ix. */
  private before(a: number, ia: number, b: number, ib: number): boolean {
    return a > b || (a === b && ia < ib);
  }

  private siftUp(p: number): void {
    const items = this.items;
    const keys = this.keys;
    const ix = items[p];
    const key = keys[p];
    while (p > 0 && this.before(key, ix, keys[p - 1], items[p - 1])) {
      items[p] = items[p - 1];
      keys[p] = keys[p - 1];
      this.posOf[items[p]] = p;
      p--;
    }
    items[p] = ix;
    keys[p] = key;
    this.posOf[ix] = p;
  }

  private siftDown(p: number): void {
    const items = this.items;
    const keys = this.keys;
    const ix = items[p];
    const key = keys[p];
    while (p + 1 < this.count && this.before(keys[p + 1], items[p + 1], key, ix)) {
      items[p] = items[p + 1];
      keys[p] = keys[p + 1];
      this.posOf[items[p]] = p;
      p++;
    }
    items[p] = ix;
    keys[p] = key;
    this.posOf[ix] = p;
  }

  /**
   * Rebuilds the list from scratch from key(ix), ix in [0, size): a bounded min-heap keeps the best
   * `capacity` (O(size · log capacity)), then the heap is emptied worst-first into sorted order.
   */
  rebuild(size: number, key: (ix: number) => number, nowMs: number): void {
    for (let k = 0; k < this.count; k++) this.posOf[this.items[k]] = -1;
    if (size > this.posOf.length) this.posOf = ensureLength(this.posOf, size, -1);
    const hi = this.items; // used as the heap: hi[0]/hk[0] is the worst kept entry
    const hk = this.keys;
    let n = 0;
    let outside = 0;
    const worse = (a: number, ia: number, b: number, ib: number): boolean => this.before(b, ib, a, ia);
    for (let ix = 0; ix < size; ix++) {
      const g = key(ix);
      if (g <= 0) continue;
      let p: number;
      if (n < this.capacity) {
        p = n++;
        while (p > 0) {
          const q = (p - 1) >> 1;
          if (!worse(g, ix, hk[q], hi[q])) break;
          hi[p] = hi[q];
          hk[p] = hk[q];
          p = q;
        }
      } else {
        if (!this.before(g, ix, hk[0], hi[0])) {
          if (g > outside) outside = g;
          continue;
        }
        if (hk[0] > outside) outside = hk[0];
        p = this.siftRootDown(n, g, ix);
      }
      hi[p] = ix;
      hk[p] = g;
    }
    // Pop worst-first into the back of the arrays: the root moves to position n-1, n-2, ...
    for (let last = n - 1; last > 0; last--) {
      const rootIx = hi[0];
      const rootKey = hk[0];
      const ix = hi[last];
      const g = hk[last];
      const p = this.siftRootDown(last, g, ix);
      hi[p] = ix;
      hk[p] = g;
      hi[last] = rootIx;
      hk[last] = rootKey;
    }
    this.count = n;
    for (let k = 0; k < n; k++) this.posOf[hi[k]] = k;
    this.outsideMax = outside;
    this.inexact = false;
    this.lastRebuildMs = nowMs;
  }

  /** Sifts a hole from the root of the heap items/keys[0..n) down to where (g, ix) belongs; returns it. */
  private siftRootDown(n: number, g: number, ix: number): number {
    const hi = this.items;
    const hk = this.keys;
    let p = 0;
    while (true) {
      const l = 2 * p + 1;
      if (l >= n) break;
      const r = l + 1;
      // The child that ranks worse (the min-heap's smaller child).
      const c = r < n && this.before(hk[l], hi[l], hk[r], hi[r]) ? r : l;
      if (!this.before(g, ix, hk[c], hi[c])) break;
      hi[p] = hi[c];
      hk[p] = hk[c];
      p = c;
    }
    return p;
  }
}
