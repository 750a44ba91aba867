/**
 * Bounded top-k selection over (item ix, score) pairs with a binary min-heap in typed arrays: O(log k)
 * per push and no allocation after construction. Ties go to the smaller ix so results are deterministic.
 * Shared by the candidate sources, search and model serving (sasrec-serve).
 */

/** Where drainInto writes: parallel item/score arrays with a count (a CandidateBuffer fits). */
export interface TopKOutput {
  items: Int32Array;
  scores: Float32Array;
  count: number;
  readonly capacity: number;
}

export class TopK {
  /** heap: [capacity] item ixs; heapScores: [capacity]; heap[0] is the worst kept entry. */
  private readonly heap: Int32Array;
  private readonly heapScores: Float64Array;
  private size = 0;
  private k = 0;

  constructor(readonly capacity: number) {
    this.heap = new Int32Array(capacity);
    this.heapScores = new Float64Array(capacity);
  }

  /** Starts a new selection of the best k (≤ capacity). */
  reset(k: number): void {
    if (k > this.capacity) throw new RangeError(`top-k of ${k} exceeds capacity ${this.capacity}`);
    this.k = k;
    this.size = 0;
  }

  get count(): number {
    return this.size;
  }

  /** The score an entry must beat to enter (−∞ while not full). */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.heapScores[0];
  }

  /** True when (a, sa) ranks below (b, sb). */
  private static worse(sa: number, a: number, sb: number, b: number): boolean {
    return sa < sb || (sa === sb && a > b);
  }

  push(ix: number, score: number): void {
    if (this.k === 0) return;
    const h = this.heap;
    const s = this.heapScores;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, ix, s[p], h[p])) break;
        h[i] = h[p];
        s[i] = s[p];
        i = p;
      }
      h[i] = ix;
      s[i] = score;
      return;
    }
    if (!TopK.worse(s[0], h[0], score, ix)) return;
    // Replace the root (the worst kept entry).
    this.siftDown(ix, score, this.size);
  }

  /** Writes the kept entries best first into out (score (s - shift) · scale) and empties the heap. */
  drainInto(out: TopKOutput, scale = 1, shift = 0): void {
    const n = this.size;
    if (n > out.capacity) throw new RangeError(`top-k of ${n} exceeds output capacity ${out.capacity}`);
    out.count = this.drain(out.items, out.scores, scale, shift);
  }

  /** Writes the kept entries best first into items/scores (score (s - shift) · scale), empties the heap, returns the count. */
  drain(items: Int32Array, scores: Float32Array, scale = 1, shift = 0): number {
    const n = this.size;
    if (n > items.length || n > scores.length) throw new RangeError(`top-k of ${n} exceeds output length ${Math.min(items.length, scores.length)}`);
    // Pop the worst repeatedly, filling from the back.
    for (let pos = n - 1; pos >= 0; pos--) {
      items[pos] = this.heap[0];
      scores[pos] = (this.heapScores[0] - shift) * scale;
      this.popRoot();
    }
    return n;
  }

  private popRoot(): void {
    const h = this.heap;
    const s = this.heapScores;
    const n = --this.size;
    if (n === 0) return;
    this.siftDown(h[n], s[n], n);
  }

  /** Places (ix, score) at the root of a heap of n entries and sifts it down to its slot. */
  private siftDown(ix: number, score: number, n: number): void {
    const h = this.heap;
    const s = this.heapScores;
    let i = 0;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && TopK.worse(s[r], h[r], s[l], h[l]) ? r : l;
      if (!TopK.worse(s[c], h[c], score, ix)) break;
      h[i] = h[c];
      s[i] = s[c];
      i = c;
    }
    h[i] = ix;
    s[i] = score;
  }
}
