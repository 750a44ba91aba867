/**
 * A maintained top list: the K items with the largest keys (trending's forward-decayed counters), kept
 * sorted as keys change, so a request reads the best items in order instead of scanning the catalog.
 *
 * Forward-decay keys only grow with positive events and never decay (decay is applied at read time), so
 * an update either moves a member up (insertion step) or lets a new item replace the last member. A key
 * that decreases (negative feedback, a deleted item, a counter rebase) can let a non-member overtake a
 * member: the member moves down and the list is marked inexact; `rebuild` restores it by one full scan,
 * which the reader runs at most every `rebuildIntervalMs` (the order among members is always exact).
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
        if (!this.before(key, ix, this.keys[last], this.items[last])) return;
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
        this.inexact = true;
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

  /** Rebuilds the list from scratch: key(ix) for ix in [0, size). O(size · log capacity) worst case. */
  rebuild(size: number, key: (ix: number) => number, nowMs: number): void {
    for (let k = 0; k < this.count; k++) this.posOf[this.items[k]] = -1;
    this.count = 0;
    for (let ix = 0; ix < size; ix++) {
      const g = key(ix);
      if (g <= 0) continue;
      if (this.count === this.capacity && !this.before(g, ix, this.keys[this.count - 1], this.items[this.count - 1])) continue;
      this.update(ix, g);
    }
    this.inexact = false;
    this.lastRebuildMs = nowMs;
  }
}
