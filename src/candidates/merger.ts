/**
 * Merges candidate sources into one list of exactly n items (when that many are servable), deduplicated,
 * recording for every item which sources proposed it and with what raw score.
 *
 * Tiers run in order. "Blend" tiers are combined: each source's scores are normalised by its best score
 * and summed with the tier weight, and the union is sorted by that sum. "Fill" tiers only back-fill the
 * slots the blend left empty, in the source's own order, scored below the last item already placed
 * (score = floor · (0.5 + 0.49 · normalised)), so the list stays sorted and a back-fill item never outranks
 * a blended one. A fill tier runs only while slots are open (so a full blend costs no back-fill scans);
 * when it runs and proposes an item already placed, it is still recorded in that item's sources.
 */
import { ensureLength } from '../features/arrays.js';
import { CandidateBuffer, type CandidateContext, type CandidateSource } from './types.js';

export interface MergeTier {
  source: CandidateSource;
  /** Most candidates requested from the source (blend tiers ask for at most n; fill tiers for n + placed). */
  quota: number;
  /** Blend weight (blend tiers only). */
  weight?: number;
  /** Back-fill only the remaining slots. */
  fill?: boolean;
}

/** The merged list; valid until the next merge (buffers are reused). */
export interface MergedList {
  count: number;
  /** items: [count] item ixs, best first. */
  items: Int32Array;
  /** scores: [count] merged scores, descending. */
  scores: Float32Array;
  /** sourceNames: the tiers' source names; bit t of sourceMask[i] ⇔ tier t proposed item i. */
  sourceNames: string[];
  sourceMask: Uint32Array;
  /** rawScores: [count, tiers] row-major, the source's own score, NaN when the tier did not propose it. */
  rawScores: Float32Array;
}

export const MAX_TIERS = 12;

export class Merger {
  private readonly buffer: CandidateBuffer;
  private readonly items: Int32Array;
  private readonly scores: Float64Array;
  private readonly masks: Uint32Array;
  private readonly raw: Float32Array;
  private readonly order: Int32Array;
  /** outPos: [entries] output position of each emitted scratch entry. */
  private readonly outPos: Int32Array;
  private readonly out: MergedList;
  /** posOf/stampOf: [items] position of an item ix in the current merge, valid when stampOf === epoch. */
  private posOf = new Int32Array(1024);
  private stampOf = new Uint32Array(1024);
  private epoch = 0;
  private count = 0;

  /** capacity bounds both the output length and every source quota. */
  constructor(readonly capacity: number) {
    this.buffer = new CandidateBuffer(capacity);
    const maxEntries = capacity * MAX_TIERS;
    this.items = new Int32Array(maxEntries);
    this.scores = new Float64Array(maxEntries);
    this.masks = new Uint32Array(maxEntries);
    this.raw = new Float32Array(maxEntries * MAX_TIERS);
    this.order = new Int32Array(maxEntries);
    this.outPos = new Int32Array(maxEntries);
    this.out = {
      count: 0,
      items: new Int32Array(capacity),
      scores: new Float32Array(capacity),
      sourceNames: [],
      sourceMask: new Uint32Array(capacity),
      rawScores: new Float32Array(capacity * MAX_TIERS),
    };
  }

  merge(ctx: CandidateContext, tiers: MergeTier[], n: number): MergedList {
    if (tiers.length === 0 || tiers.length > MAX_TIERS) throw new RangeError(`merge needs 1..${MAX_TIERS} tiers, got ${tiers.length}`);
    if (!(n >= 1 && n <= this.capacity)) throw new RangeError(`merge n must be in 1..${this.capacity}, got ${n}`);
    if (++this.epoch === 0xffffffff) {
      this.stampOf.fill(0);
      this.epoch = 1;
    }
    this.count = 0;
    const T = tiers.length;
    const buf = this.buffer;

    // 1. Blend tiers.
    for (let t = 0; t < T; t++) {
      const tier = tiers[t];
      if (tier.fill) continue;
      tier.source.candidates(ctx, Math.min(tier.quota, n, this.capacity), buf);
      const max = buf.count > 0 ? buf.scores[0] : 1;
      const w = tier.weight ?? 1;
      for (let k = 0; k < buf.count; k++) {
        const p = this.entry(buf.items[k], T);
        this.masks[p] |= 1 << t;
        this.raw[p * MAX_TIERS + t] = buf.scores[k];
        this.scores[p] += max > 0 ? (w * buf.scores[k]) / max : 0;
      }
    }
    const order = this.order;
    for (let k = 0; k < this.count; k++) order[k] = k;
    const scores = this.scores;
    const items = this.items;
    const sorted = order.subarray(0, this.count).sort((a, b) => scores[b] - scores[a] || items[a] - items[b]);
    const out = this.out;
    out.count = 0;
    for (let k = 0; k < sorted.length && out.count < n; k++) this.emit(sorted[k], scores[sorted[k]], T);
    // Items blended but cut by n no longer count as placed.
    for (let k = n; k < sorted.length; k++) this.stampOf[items[sorted[k]]] = 0;

    // 2. Fill tiers, in order.
    for (let t = 0; t < T; t++) {
      const tier = tiers[t];
      if (!tier.fill || out.count >= n) continue; // a fill tier runs only when slots are open
      // Enough to fill every open slot even if all placed items come back first.
      tier.source.candidates(ctx, Math.min(tier.quota, n + out.count, this.capacity), buf);
      const max = buf.count > 0 ? buf.scores[0] : 1;
      const floor = out.count > 0 ? out.scores[out.count - 1] : 1;
      for (let k = 0; k < buf.count; k++) {
        const ix = buf.items[k];
        const placed = this.placedAt(ix);
        if (placed >= 0) {
          out.sourceMask[placed] |= 1 << t;
          out.rawScores[placed * MAX_TIERS + t] = buf.scores[k];
          continue;
        }
        if (out.count >= n) continue;
        const norm = max > 0 ? Math.max(0, buf.scores[k] / max) : 0;
        const p = this.entry(ix, T);
        this.masks[p] = 1 << t;
        this.raw[p * MAX_TIERS + t] = buf.scores[k];
        this.emit(p, floor * (0.5 + 0.49 * norm), T);
      }
    }
    out.sourceNames = tiers.map((t) => t.source.name);
    return out;
  }

  /** Position of ix in the merge scratch arrays, creating a zeroed entry when new. */
  private entry(ix: number, T: number): number {
    this.posOf = ensureLength(this.posOf, ix + 1);
    this.stampOf = ensureLength(this.stampOf, ix + 1);
    if (this.stampOf[ix] === this.epoch) return this.posOf[ix];
    const p = this.count++;
    this.stampOf[ix] = this.epoch;
    this.posOf[ix] = p;
    this.items[p] = ix;
    this.scores[p] = 0;
    this.masks[p] = 0;
    this.raw.fill(NaN, p * MAX_TIERS, p * MAX_TIERS + T);
    return p;
  }

  /** Output position of an item already placed in the output, else -1. */
  private placedAt(ix: number): number {
    if (ix >= this.stampOf.length || this.stampOf[ix] !== this.epoch) return -1;
    return this.outPos[this.posOf[ix]];
  }

  private emit(p: number, score: number, T: number): void {
    const out = this.out;
    const o = out.count++;
    out.items[o] = this.items[p];
    out.scores[o] = score;
    out.sourceMask[o] = this.masks[p];
    out.rawScores.fill(NaN, o * MAX_TIERS, (o + 1) * MAX_TIERS);
    for (let t = 0; t < T; t++) out.rawScores[o * MAX_TIERS + t] = this.raw[p * MAX_TIERS + t];
    this.outPos[p] = o;
  }
}
