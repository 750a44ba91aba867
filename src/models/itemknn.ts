/**
 * Item-based k-nearest-neighbours (Sarwar et al., "Item-based collaborative filtering recommendation
 * algorithms", WWW 2001; Deshpande & Karypis 2004 for the top-K model), on binary implicit feedback:
 *   c[i][j] = #users with both i and j,   n[i] = #users with i
 *   sim[i][j] = c[i][j] / (sqrt(n[i]·n[j]) + shrink)          (cosine with shrinkage, Bell & Koren 2007)
 *   keep each item's K most similar neighbours;  score(u, j) = Σ_{h ∈ history(u)} sim[h][j]
 * K and shrink are chosen on validation NDCG@10 over a small grid. Co-occurrence is accumulated one item
 * row at a time in a dense [numItems] buffer (work Σ_u |u|², memory O(numItems · Kmax)), so the catalog
 * size is not limited by an n×n matrix.
 */
import { z } from 'zod';
import type { Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { validate } from '../eval/evaluate.js';
import { TopK } from '../core/topk.js';
import { distinctSortedRows, parseModelParams, savedTensor } from './common.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export const ItemKnnParams = z
  .object({
    /** Neighbourhood sizes tried (a single value fixes it). */
    k: z.union([z.number().int().min(1).max(2000), z.array(z.number().int().min(1).max(2000)).min(1).max(10)]).default([5, 10, 20, 50, 100, 200]),
    /** Shrinkage values tried. */
    shrink: z.union([z.number().min(0), z.array(z.number().min(0)).min(1).max(10)]).default([0, 10, 50]),
    validUsers: z.number().int().min(1).max(1_000_000).default(3000),
  })
  .strict();
export type ItemKnnParams = z.infer<typeof ItemKnnParams>;

/** What an itemknn artifact's config holds besides the tensors: the shapes and the chosen neighbourhood. */
const ItemKnnSaved = z.strictObject({
  params: z.record(z.string(), z.unknown()),
  n: z.number().int().min(0),
  kMax: z.number().int().min(0),
  k: z.number().int().min(0),
  shrinkIx: z.number().int().min(0),
  numShrink: z.number().int().min(1).max(10),
});

export class ItemKnnModel implements Model {
  readonly name = 'itemknn';
  private readonly params: ItemKnnParams;
  private n = 0;
  private kMax = 0;
  /** Active neighbourhood: first `k` of each item's kMax list, from shrink slot `shrinkIx`. */
  private k = 0;
  private shrinkIx = 0;
  /** nbrItems / nbrSims: [numShrink, numItems, kMax], each list sorted by similarity descending. */
  private nbrItems: Int32Array = new Int32Array(0);
  private nbrSims: Float32Array = new Float32Array(0);
  /** nbrCount: [numShrink, numItems] valid entries per list (≤ kMax). */
  private nbrCount: Int32Array = new Int32Array(0);

  constructor(params: Record<string, unknown> = {}) {
    this.params = parseModelParams('itemknn', ItemKnnParams, params);
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    const params = ctx.params ? parseModelParams('itemknn', ItemKnnParams, { ...this.params, ...ctx.params }) : this.params;
    const ks = (Array.isArray(params.k) ? [...params.k] : [params.k]).sort((a, b) => a - b);
    const shrinks = Array.isArray(params.shrink) ? params.shrink : [params.shrink];
    const n = ctx.train.numItems;
    this.n = n;
    this.kMax = Math.min(ks[ks.length - 1], Math.max(1, n - 1));
    this.buildNeighbours(ctx.train, shrinks);

    const single = ks.length === 1 && shrinks.length === 1;
    let best = { k: ks[0], shrinkIx: 0, ndcg: -1 };
    const valid: Record<string, number> = {};
    if (!single) {
      for (let s = 0; s < shrinks.length; s++) {
        for (const k of ks) {
          this.k = Math.min(k, this.kMax);
          this.shrinkIx = s;
          const v = (await validate(this, ctx, { maxUsers: params.validUsers }))['NDCG@10'];
          valid[`NDCG@10@k=${k},shrink=${shrinks[s]}`] = v;
          ctx.onProgress?.({ elapsedSeconds: (performance.now() - t0) / 1000, valid: { 'NDCG@10': v }, message: `k=${k} shrink=${shrinks[s]}` });
          if (v > best.ndcg) best = { k, shrinkIx: s, ndcg: v };
        }
      }
    }
    this.k = Math.min(best.k, this.kMax);
    this.shrinkIx = best.shrinkIx;
    return {
      params: { k: best.k, shrink: shrinks[best.shrinkIx] },
      valid: single ? undefined : { 'NDCG@10': best.ndcg, ...valid },
      trainSeconds: (performance.now() - t0) / 1000,
    };
  }

  private buildNeighbours(train: Sequences, shrinks: number[]): void {
    const n = this.n;
    const kMax = this.kMax;
    const rows = distinctSortedRows(train.offsets, train.items, n); // user → items
    const numUsers = rows.offsets.length - 1;
    // Transpose: item → users.
    const itemCount = new Int32Array(n);
    for (let p = 0; p < rows.items.length; p++) itemCount[rows.items[p]]++;
    const colOff = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) colOff[i + 1] = colOff[i] + itemCount[i];
    const colUsers = new Int32Array(rows.items.length);
    const fillPos = colOff.slice(0, n);
    for (let u = 0; u < numUsers; u++) for (let p = rows.offsets[u]; p < rows.offsets[u + 1]; p++) colUsers[fillPos[rows.items[p]]++] = u;

    const S = shrinks.length;
    this.nbrItems = new Int32Array(S * n * kMax);
    this.nbrSims = new Float32Array(S * n * kMax);
    this.nbrCount = new Int32Array(S * n);
    const co = new Float64Array(n); // co-occurrence row of item i
    const touched = new Int32Array(n);
    const heap = new TopK(kMax);
    const sorted = new Int32Array(kMax);
    const sortedScores = new Float32Array(kMax);
    for (let i = 0; i < n; i++) {
      let nt = 0;
      for (let p = colOff[i]; p < colOff[i + 1]; p++) {
        const u = colUsers[p];
        for (let q = rows.offsets[u]; q < rows.offsets[u + 1]; q++) {
          const j = rows.items[q];
          if (co[j] === 0) touched[nt++] = j;
          co[j]++;
        }
      }
      const ni = itemCount[i];
      for (let s = 0; s < S; s++) {
        heap.reset(kMax);
        for (let t = 0; t < nt; t++) {
          const j = touched[t];
          if (j === i) continue;
          heap.push(j, co[j] / (Math.sqrt(ni * itemCount[j]) + shrinks[s]));
        }
        const m = heap.drain(sorted, sortedScores);
        const base = (s * n + i) * kMax;
        for (let x = 0; x < m; x++) {
          const j = sorted[x];
          this.nbrItems[base + x] = j;
          this.nbrSims[base + x] = co[j] / (Math.sqrt(ni * itemCount[j]) + shrinks[s]);
        }
        this.nbrCount[s * n + i] = m;
      }
      for (let t = 0; t < nt; t++) co[touched[t]] = 0;
    }
  }

  toArtifacts(): SavedModel {
    const { n, kMax, k, shrinkIx } = this;
    const numShrink = n > 0 ? this.nbrCount.length / n : 1;
    return {
      config: { params: { ...this.params }, n, kMax, k, shrinkIx, numShrink },
      weights: { nbrItems: this.nbrItems.slice(), nbrSims: this.nbrSims.slice(), nbrCount: this.nbrCount.slice() },
    };
  }

  static fromArtifacts(saved: SavedModel): ItemKnnModel {
    const c = parseModelParams('itemknn', ItemKnnSaved, saved.config);
    const m = new ItemKnnModel(c.params);
    if (c.k > c.kMax || c.shrinkIx >= c.numShrink) throw new ValidationError('itemknn artifact config is inconsistent', [{ path: 'config.k', message: `k ${c.k} kMax ${c.kMax} shrinkIx ${c.shrinkIx}` }]);
    Object.assign(m, { n: c.n, kMax: c.kMax, k: c.k, shrinkIx: c.shrinkIx });
    m.nbrItems = savedTensor('itemknn', saved.weights, 'nbrItems', 'i32', c.numShrink * c.n * c.kMax).slice();
    m.nbrSims = savedTensor('itemknn', saved.weights, 'nbrSims', 'f32', c.numShrink * c.n * c.kMax).slice();
    m.nbrCount = savedTensor('itemknn', saved.weights, 'nbrCount', 'i32', c.numShrink * c.n).slice();
    for (let x = 0; x < m.nbrItems.length; x++) {
      if (m.nbrItems[x] < 0 || m.nbrItems[x] >= Math.max(1, c.n)) throw new ValidationError('itemknn artifact has a neighbour out of range', [{ path: `weights.nbrItems[${x}]`, message: String(m.nbrItems[x]) }]);
    }
    return m;
  }

  dispose(): void {}

  /** out[r, j] = Σ_{h ∈ history(u_r)} sim[h][j] over h's first k neighbours. */
  scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): void {
    const { n, kMax, k } = this;
    const s = this.shrinkIx;
    const { offsets, items } = histories;
    for (let r = 0; r < userIxs.length; r++) {
      const u = userIxs[r];
      const off = r * n;
      out.fill(0, off, off + n);
      for (let p = offsets[u]; p < offsets[u + 1]; p++) {
        const h = items[p];
        const base = (s * n + h) * kMax;
        const m = Math.min(k, this.nbrCount[s * n + h]);
        for (let x = 0; x < m; x++) out[off + this.nbrItems[base + x]] += this.nbrSims[base + x];
      }
    }
  }
}
