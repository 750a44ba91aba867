/**
 * Embedding retrieval: nearest items (HNSW, src/index/ann.ts) to a query built from the seed items'
 * vectors — the two-tower model's item tower (Yi et al., "Sampling-Bias-Corrected Neural Modeling for
 * Large Corpus Item Recommendations", RecSys 2019). The query is the seed-weighted mean of the seeds' unit
 * item vectors, re-normalised: the item tower's view of the user's recent taste. (The model's own user
 * tower needs the model's user index, which users who arrived after training do not have; the mean of
 * item vectors serves every user with a history.)
 */
import { AnnIndex } from '../index/ann.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

/** Extra neighbours asked for beyond n: the seeds themselves and filtered items come back too. */
const SLACK = 50;

export class EmbeddingSource implements CandidateSource {
  readonly name = 'twotower';
  private index: AnnIndex | undefined;
  private dim = 0;
  /** vectors: [rows, dim] unit rows; rowOf: [engine item ixs] row or -1; itemOf: [rows] engine item ix or -1. */
  private vectors: Float32Array = new Float32Array(0);
  private rowOfItem = new Int32Array(0);
  private itemOfRow: Int32Array = new Int32Array(0);
  private query = new Float32Array(0);

  /** Replaces the vectors (rows aligned with itemOfRow) and rebuilds the index. */
  set(vectors: Float32Array, dim: number, itemOfRow: Int32Array, itemCount: number): void {
    const rows = itemOfRow.length;
    if (vectors.length !== rows * dim) throw new RangeError(`embedding matrix is ${vectors.length} floats, expected ${rows}x${dim}`);
    const rowOf = new Int32Array(itemCount).fill(-1);
    const skip = new Set<number>();
    for (let r = 0; r < rows; r++) {
      const ix = itemOfRow[r];
      if (ix >= 0 && ix < itemCount) rowOf[ix] = r;
      else skip.add(r);
    }
    this.index = AnnIndex.fromMatrix(vectors, { dims: dim, metric: 'ip' }, skip);
    this.vectors = vectors;
    this.dim = dim;
    this.rowOfItem = rowOf;
    this.itemOfRow = itemOfRow;
    this.query = new Float32Array(dim);
  }

  get ready(): boolean {
    return this.index !== undefined;
  }

  rowOf(itemIx: number): number {
    return itemIx < this.rowOfItem.length ? this.rowOfItem[itemIx] : -1;
  }

  /** Engine item ix of a vector row (-1: not in the engine). */
  itemOf(row: number): number {
    return row >= 0 && row < this.itemOfRow.length ? this.itemOfRow[row] : -1;
  }

  /** Rows of the vector matrix. */
  get rows(): number {
    return this.itemOfRow.length;
  }

  /** Approximate nearest rows to the unit query q by inner product (k ≥ 1); undefined before set(). */
  nearest(q: Float32Array, k: number): { ixs: Int32Array; scores: Float32Array; k: number } | undefined {
    return this.index?.search(q, k);
  }

  get matrix(): { dim: number; data: Float32Array } {
    return { dim: this.dim, data: this.vectors };
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    out.count = 0;
    if (!this.index || ctx.seedCount === 0) return;
    const d = this.dim;
    const q = this.query.fill(0);
    let used = 0;
    for (let s = 0; s < ctx.seedCount; s++) {
      const row = this.rowOf(ctx.seedItems[s]);
      if (row < 0) continue;
      const w = ctx.seedWeights[s];
      for (let k = 0; k < d; k++) q[k] += w * this.vectors[row * d + k];
      used++;
    }
    if (used === 0) return;
    let norm = 0;
    for (let k = 0; k < d; k++) norm += q[k] * q[k];
    if (!(norm > 0)) return;
    const inv = 1 / Math.sqrt(norm);
    for (let k = 0; k < d; k++) q[k] *= inv;
    const want = Math.min(n, out.capacity);
    const res = this.index.search(q, want + ctx.seedCount + SLACK);
    let c = 0;
    for (let k = 0; k < res.k && c < want; k++) {
      const row = res.ixs[k];
      if (row < 0) break;
      const ix = this.itemOfRow[row];
      if (ix < 0 || !ctx.filter.allows(ix)) continue;
      out.items[c] = ix;
      out.scores[c++] = Math.max(0, res.scores[k]); // merged blends normalise by the best score
    }
    out.count = c;
  }
}
