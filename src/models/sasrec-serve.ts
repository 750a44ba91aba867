/**
 * SASRec at request time: the next items after one user's recent sequence, for the `next` surface.
 *
 * A request runs the eval-mode forward pass of sasrec.ts over the newest ≤ maxLen known items (Kang &
 * McAuley 2018 §III-E: the last position's hidden state F_t scores item i as F_t · M_i) and scores the
 * whole catalogue with one [1, d]×[d, numItems] matvec over the item embeddings (transposed once at load),
 * then keeps the best k with a bounded min-heap. Per call it allocates nothing: the sequence, exclusion
 * stamps, heap and the kernels' activations are reused. The matvec is O(numItems·d) — about 0.2 M
 * multiply-adds for ML-1M, 6.4 M for 100k items at d = 64 — fine up to ~100k items; beyond that an ANN
 * index over the item embeddings would replace it. The forward pass is O(blocks·(n·d² + n²·d)) for n inputs.
 *
 * Also reports the log-partition log Σ_i exp(s_i) of the last call, so callers can turn a score into the
 * model's next-item probability exp(s − logZ) (a bounded, comparable number for blending and explanations).
 */
import { ValidationError } from '../core/errors.js';
import { TopK } from '../core/topk.js';
import { SasrecRecommender } from './sasrec-train.js';
import type { SasrecModel } from './sasrec.js';

/** Largest k a predictor answers (the engine asks for at most 2·maxN). */
export const MAX_TOP_K = 4_096;

export class SasrecPredictor {
  readonly numItems: number;
  readonly maxLen: number;
  /** Log-partition of the last topK call's scores over all items (NaN when it had no known input). */
  logSumExp = Number.NaN;
  /** Mean and standard deviation of the last call's raw scores over all items (z-scores for blending). */
  scoreMean = Number.NaN;
  scoreStd = Number.NaN;
  /** scores: [numItems] raw scores of the last call (the model's buffer; valid until the next call). */
  private lastScores: Float32Array | undefined;
  /** seq: [maxLen] known input item ixs of the current call, oldest first. */
  private readonly seq: Int32Array;
  /** stamp: [numItems] === epoch ⇔ the item is an input of the current call (excluded). */
  private readonly stamp: Uint32Array;
  private epoch = 0;
  /** The best items of the current call (bounded min-heap, reused). */
  private readonly top = new TopK(MAX_TOP_K);

  private constructor(
    private readonly rec: SasrecRecommender,
    private readonly model: SasrecModel,
  ) {
    this.numItems = model.numItems;
    this.maxLen = model.cfg.maxLen;
    this.seq = new Int32Array(this.maxLen);
    this.stamp = new Uint32Array(this.numItems);
  }

  /** Builds a single-sequence, single-thread predictor from registry artifacts (SasrecRecommender.toArtifacts). */
  static fromArtifacts(config: Record<string, unknown>, weights: Record<string, Float32Array | Int32Array>): SasrecPredictor {
    const rec = SasrecRecommender.fromArtifacts(config, weights, { maxBatch: 1, threads: 1 });
    return new SasrecPredictor(rec, rec.trained!);
  }

  /**
   * The best k next items (model item ixs 0..numItems-1) after `items[0..n)` (oldest first, newest last).
   * Ixs outside the model's range are skipped (items it never saw); of the rest the newest maxLen are the
   * input. The input items themselves are never proposed, nor items `allow` rejects. Writes outItems/
   * outScores (raw scores, descending; ties to the smaller ix) and returns the count (0 without a known
   * input item). Sets logSumExp.
   */
  topK(items: ArrayLike<number>, n: number, k: number, outItems: Int32Array, outScores: Float32Array, allow?: (itemIx: number) => boolean): number {
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_TOP_K)) throw new ValidationError(`k must be an integer in 0..${MAX_TOP_K}`, [{ path: 'k', message: `got ${k}` }]);
    if (outItems.length < k || outScores.length < k) throw new RangeError(`output buffers hold ${Math.min(outItems.length, outScores.length)} < k = ${k}`);
    const N = this.numItems;
    // Newest known items first into the tail of seq, so seq[start..maxLen) is oldest → newest.
    let start = this.maxLen;
    for (let j = Math.min(n, items.length) - 1; j >= 0 && start > 0; j--) {
      const ix = items[j];
      if (Number.isInteger(ix) && ix >= 0 && ix < N) this.seq[--start] = ix;
    }
    this.logSumExp = Number.NaN;
    this.scoreMean = this.scoreStd = Number.NaN;
    this.lastScores = undefined;
    if (start === this.maxLen || k === 0) return 0;
    const scores = this.model.scoreSequence(this.seq, start, this.maxLen); // [N]
    this.lastScores = scores;
    if (++this.epoch === 0xffffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    for (let j = start; j < this.maxLen; j++) this.stamp[this.seq[j]] = epoch;

    let max = -Infinity;
    for (let i = 0; i < N; i++) if (scores[i] > max) max = scores[i];
    let sum = 0, s1 = 0, s2 = 0;
    const top = this.top;
    top.reset(k);
    for (let i = 0; i < N; i++) {
      const s = scores[i];
      sum += Math.exp(s - max);
      s1 += s;
      s2 += s * s;
      if (this.stamp[i] === epoch) continue;
      if (!(s > top.threshold)) continue; // not better than the worst kept (ixs ascend, so ties keep the smaller)
      if (allow !== undefined && !allow(i)) continue;
      top.push(i, s);
    }
    this.logSumExp = max + Math.log(sum);
    this.scoreMean = s1 / N;
    this.scoreStd = Math.sqrt(Math.max(0, s2 / N - this.scoreMean * this.scoreMean));
    return top.drain(outItems, outScores);
  }

  /** Raw score of model item `row` in the last topK call (NaN when that call had no known input). */
  scoreOf(row: number): number {
    return this.lastScores !== undefined && row >= 0 && row < this.numItems ? this.lastScores[row] : Number.NaN;
  }

  /** Frees the model's kernel memory. */
  async dispose(): Promise<void> {
    await this.rec.dispose();
  }
}
