/**
 * Item-to-item co-occurrence, maintained incrementally from the event stream.
 *
 * When a user's positive event on item i arrives, i is paired with the distinct items of the user's
 * previous W positive interactions in the same session (or within a time window when the client sends no
 * session ids): c(i, j) += 1 symmetrically and n_i += 1. Repeats of an item already in that window
 * (play → complete → like) are one occurrence. This is the session-based co-occurrence of item-based CF
 * (Sarwar et al., "Item-Based Collaborative Filtering Recommendation Algorithms", WWW 2001; Linden, Smith
 * & York, "Amazon.com Recommendations: Item-to-Item Collaborative Filtering", IEEE Internet Computing
 * 2003), restricted to a sliding window as in session-kNN (Ludewig & Jannach, "Evaluation of
 * Session-based Recommendation Algorithms", UMUAI 2018).
 *
 * Similarity: sim(i, j) = c(i, j) / (n_i^{1-α} · n_j^{α}), only for pairs with c(i, j) ≥ minSupport, so
 * one accidental pair never becomes a recommendation. α = 0.5 is the cosine of the occurrence vectors
 * (symmetric); α → 0 approaches the conditional probability P(j | i), which favours popular continuations
 * (the asymmetric form of Deshpande & Karypis, "Item-Based Top-N Recommendation Algorithms", TOIS 2004).
 *
 * Storage: per item, an open-addressing hash row (Int32Array keys, Float32Array counts). A row is capped
 * at maxNeighbours: when it overflows, the weakest half is dropped (heavy-hitter pruning), which bounds
 * memory at O(items · maxNeighbours) whatever the traffic.
 */
import { ensureLength } from '../features/arrays.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';
import { TopK } from './topk.js';

const EMPTY = -1;

/** One item's neighbour counts: an open-addressing (linear probing) hash map int → float. */
export class SparseRow {
  keys: Int32Array;
  vals: Float32Array;
  size = 0;

  constructor(capacity = 8) {
    this.keys = new Int32Array(capacity).fill(EMPTY);
    this.vals = new Float32Array(capacity);
  }

  private slotOf(key: number): number {
    const mask = this.keys.length - 1;
    let s = Math.imul(key, 0x9e3779b1) >>> 0 & mask;
    while (this.keys[s] !== EMPTY && this.keys[s] !== key) s = (s + 1) & mask;
    return s;
  }

  get(key: number): number {
    const s = this.slotOf(key);
    return this.keys[s] === key ? this.vals[s] : 0;
  }

  add(key: number, delta: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.rehash(this.keys.length * 2);
    const s = this.slotOf(key);
    if (this.keys[s] !== key) {
      this.keys[s] = key;
      this.size++;
    }
    this.vals[s] += delta;
  }

  /**
   * Keeps the `limit` largest counts (ties at the cut kept in slot order, so the result is deterministic)
   * and drops the rest. Used by pruning; O(size log size), rare.
   */
  keepBest(limit: number): void {
    if (this.size <= limit) return;
    const keys = this.keys;
    const vals = this.vals;
    const sorted = new Float32Array(this.size);
    let n = 0;
    for (let s = 0; s < keys.length; s++) if (keys[s] !== EMPTY) sorted[n++] = vals[s];
    sorted.sort();
    const cut = sorted[n - limit]; // the limit-th largest
    let above = 0;
    for (let k = 0; k < n; k++) if (sorted[k] > cut) above++;
    let tiesLeft = limit - above;
    let cap = 8;
    while (cap < limit * 2 + 2) cap *= 2;
    this.keys = new Int32Array(cap).fill(EMPTY);
    this.vals = new Float32Array(cap);
    this.size = 0;
    for (let s = 0; s < keys.length; s++) {
      if (keys[s] === EMPTY || vals[s] < cut) continue;
      if (vals[s] === cut) {
        if (tiesLeft === 0) continue;
        tiesLeft--;
      }
      const t = this.slotOf(keys[s]);
      this.keys[t] = keys[s];
      this.vals[t] = vals[s];
      this.size++;
    }
  }

  private rehash(capacity: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Int32Array(capacity).fill(EMPTY);
    this.vals = new Float32Array(capacity);
    for (let s = 0; s < keys.length; s++) {
      if (keys[s] === EMPTY) continue;
      const t = this.slotOf(keys[s]);
      this.keys[t] = keys[s];
      this.vals[t] = vals[s];
    }
  }
}

export interface CoocConfig {
  /** Previous positive items in the session a new occurrence is paired with. */
  window: number;
  /** Without session ids, only items within this time before the event pair with it. */
  windowMs: number;
  /** Minimum co-occurrence count for a pair to count as similar. */
  minSupport: number;
  /** Neighbour cap per item (memory bound). */
  maxNeighbours: number;
  /** Exponent on the candidate's occurrence count (0.5 = cosine). */
  alpha: number;
}

export class CooccurrenceIndex {
  private rows: (SparseRow | undefined)[] = [];
  /** occurrences: [items] n_i, the number of occurrences of each item. */
  private occurrences = new Float32Array(1024);
  /** invNormA: [items] 1 / n_j^α, kept current in observe so that scoring needs no Math.pow per neighbour. */
  private invNormA = new Float32Array(1024);
  pairs = 0;

  constructor(readonly config: CoocConfig) {
    if (!(config.window >= 1 && config.window <= 100)) throw new RangeError(`cooc window must be in 1..100, got ${config.window}`);
    if (!(config.minSupport >= 1)) throw new RangeError(`cooc minSupport must be ≥ 1, got ${config.minSupport}`);
    if (!(config.alpha >= 0 && config.alpha <= 1)) throw new RangeError(`cooc alpha must be in [0, 1], got ${config.alpha}`);
  }

  /** Takes over other's counts (a rebuilt copy with the same config); other must not be used afterwards. */
  adopt(other: CooccurrenceIndex): void {
    this.rows = other.rows;
    this.occurrences = other.occurrences;
    this.invNormA = other.invNormA;
    this.pairs = other.pairs;
  }

  /** Records one occurrence of item i together with the distinct items window[0..count). */
  observe(itemIx: number, window: Int32Array, count: number): void {
    this.occurrences = ensureLength(this.occurrences, itemIx + 1);
    this.invNormA = ensureLength(this.invNormA, itemIx + 1);
    const n = (this.occurrences[itemIx] += 1);
    this.invNormA[itemIx] = 1 / Math.pow(n, this.config.alpha);
    for (let k = 0; k < count; k++) {
      const j = window[k];
      if (j === itemIx) continue;
      this.bump(itemIx, j);
      this.bump(j, itemIx);
      this.pairs++;
    }
  }

  private bump(i: number, j: number): void {
    let row = this.rows[i];
    if (!row) row = this.rows[i] = new SparseRow();
    row.add(j, 1);
    if (row.size > this.config.maxNeighbours) this.prune(row);
  }

  /** Drops the weakest half of an overflowing row. */
  private prune(row: SparseRow): void {
    row.keepBest(Math.max(1, this.config.maxNeighbours >> 1));
  }

  /** Bound on every item ix the index holds (rows and neighbours). */
  get size(): number {
    return Math.max(this.occurrences.length, this.rows.length);
  }

  occurrencesOf(itemIx: number): number {
    return itemIx < this.occurrences.length ? this.occurrences[itemIx] : 0;
  }

  count(i: number, j: number): number {
    return this.rows[i]?.get(j) ?? 0;
  }

  /** sim(i, j) = c(i, j) / (n_i^{1-α} n_j^α) when c(i, j) ≥ minSupport, else 0. */
  similarity(i: number, j: number): number {
    const c = this.count(i, j);
    if (c < this.config.minSupport) return 0;
    const a = this.config.alpha;
    return c / (Math.pow(this.occurrencesOf(i), 1 - a) * Math.pow(this.occurrencesOf(j), a));
  }

  /**
   * acc[j] += w · sim(i, j) for every supported neighbour j of i, appending each j whose acc was 0 to
   * touched (from touchedCount). acc and touched must hold every item ix. Returns the new touched count.
   * The hot loop of item-based scoring: no callback, no Math.pow.
   */
  accumulate(i: number, w: number, acc: Float64Array, touched: Int32Array, touchedCount: number): number {
    const row = this.rows[i];
    if (!row) return touchedCount;
    const minSupport = this.config.minSupport;
    const scale = w / Math.pow(this.occurrencesOf(i), 1 - this.config.alpha);
    const inv = this.invNormA;
    const keys = row.keys;
    const vals = row.vals;
    let t = touchedCount;
    for (let s = 0; s < keys.length; s++) {
      const j = keys[s];
      if (j === EMPTY) continue;
      const c = vals[s];
      if (c < minSupport) continue;
      if (acc[j] === 0) touched[t++] = j;
      acc[j] += scale * c * inv[j];
    }
    return t;
  }

  /** Calls visit(j, sim) for every supported neighbour of i. */
  forEachNeighbour(i: number, visit: (j: number, sim: number) => void): void {
    const row = this.rows[i];
    if (!row) return;
    const minSupport = this.config.minSupport;
    const a = this.config.alpha;
    const seedNorm = Math.pow(this.occurrencesOf(i), 1 - a);
    const occ = this.occurrences;
    const cosine = a === 0.5;
    for (let s = 0; s < row.keys.length; s++) {
      const j = row.keys[s];
      if (j === EMPTY) continue;
      const c = row.vals[s];
      if (c < minSupport) continue;
      visit(j, c / (seedNorm * (cosine ? Math.sqrt(occ[j]) : Math.pow(occ[j], a))));
    }
  }

  /** Forgets an item's neighbours (deleted item); the pairs pointing at it are filtered at serving time. */
  dropItem(i: number): void {
    this.rows[i] = undefined;
  }
}

/**
 * Item-based CF over the context's seed items: score(j) = Σ_seeds w_s · sim(s, j). The seeds are the
 * user's recent history (home), the current session (next) or the one item asked about (similar).
 */
export class CoocSource implements CandidateSource {
  readonly name = 'cooc';
  /** acc: [items] score accumulator; touched lists the ixs with a non-zero entry. */
  private acc = new Float64Array(1024);
  private touched = new Int32Array(1024);
  private touchedCount = 0;
  private readonly top: TopK;

  constructor(private readonly index: CooccurrenceIndex, capacity: number) {
    this.top = new TopK(capacity);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    this.touchedCount = 0;
    this.acc = ensureLength(this.acc, this.index.size);
    this.touched = ensureLength(this.touched, this.acc.length);
    for (let s = 0; s < ctx.seedCount; s++) {
      const w = ctx.seedWeights[s];
      if (!(w > 0)) continue;
      this.touchedCount = this.index.accumulate(ctx.seedItems[s], w, this.acc, this.touched, this.touchedCount);
    }
    const top = this.top;
    top.reset(Math.min(n, out.capacity));
    for (let k = 0; k < this.touchedCount; k++) {
      const j = this.touched[k];
      const score = this.acc[j];
      this.acc[j] = 0;
      if (score > top.threshold && ctx.filter.allows(j)) top.push(j, score);
    }
    top.drainInto(out);
  }
}
