/**
 * BPR-MF: matrix factorisation trained with Bayesian Personalized Ranking (Rendle et al., "BPR: Bayesian
 * Personalized Ranking from Implicit Feedback", UAI 2009, §4 LearnBPR), with an item bias:
 *   x̂_ui = p_u · q_i + b_i
 *   loss per triple (u, i, j), i observed, j not: −ln σ(x̂_ui − x̂_uj) + reg·(‖p_u‖² + ‖q_i‖² + ‖q_j‖²)
 * Triples are drawn as in LearnBPR: (u, i) uniform over train interactions, j uniform over items the user
 * has not interacted with. Updates are per-triple Adagrad (Duchi et al. 2011) instead of plain SGD,
 * which is less sensitive to the learning rate across datasets. The number of epochs is chosen on
 * validation NDCG@10 (checked every `evalEvery` epochs, stop after `patience` checks without
 * improvement; the best factors are kept). Scores ignore the query history: a user is their factor.
 */
import { z } from 'zod';
import type { Sequences } from '../core/dataset.js';
import { Rng } from '../core/rng.js';
import { validate } from '../eval/evaluate.js';
import { distinctSortedRows, parseModelParams, savedTensor } from './common.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export const BprParams = z
  .object({
    dim: z.number().int().min(1).max(1024).default(64),
    lr: z.number().positive().max(10).default(0.05),
    reg: z.number().min(0).max(10).default(0.01),
    maxEpochs: z.number().int().min(1).max(10_000).default(60),
    evalEvery: z.number().int().min(1).max(100).default(2),
    patience: z.number().int().min(1).max(100).default(3),
    initStd: z.number().positive().max(1).default(0.1),
    validUsers: z.number().int().min(1).max(1_000_000).default(2000),
  })
  .strict();
export type BprParams = z.infer<typeof BprParams>;

export class BprModel implements Model {
  readonly name = 'bpr';
  private readonly params: BprParams;
  private dim = 0;
  private numItems = 0;
  /** userF: [numUsers, dim]; itemF: [numItems, dim]; itemB: [numItems]. */
  private userF = new Float32Array(0);
  private itemF = new Float32Array(0);
  private itemB = new Float32Array(0);

  constructor(params: Record<string, unknown> = {}) {
    this.params = parseModelParams('bpr', BprParams, params);
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    const prm = ctx.params ? parseModelParams('bpr', BprParams, { ...this.params, ...ctx.params }) : this.params;
    const { numUsers, numItems } = ctx.train;
    const d = prm.dim;
    this.dim = d;
    this.numItems = numItems;
    const rng = new Rng(ctx.seed ^ 0xb9b);
    const userF = new Float32Array(numUsers * d);
    const itemF = new Float32Array(numItems * d);
    const itemB = new Float32Array(numItems);
    for (let x = 0; x < userF.length; x++) userF[x] = rng.normal() * prm.initStd;
    for (let x = 0; x < itemF.length; x++) itemF[x] = rng.normal() * prm.initStd;
    // Adagrad accumulators, same shapes.
    const gU = new Float32Array(userF.length);
    const gI = new Float32Array(itemF.length);
    const gB = new Float32Array(numItems);
    this.userF = userF;
    this.itemF = itemF;
    this.itemB = itemB;

    // Interactions as (user, item) pairs over distinct sorted rows (for the "j not seen" check).
    const rows = distinctSortedRows(ctx.train.offsets, ctx.train.items, numItems);
    const numPairs = rows.items.length;
    const pairUser = new Int32Array(numPairs);
    for (let u = 0; u < numUsers; u++) pairUser.fill(u, rows.offsets[u], rows.offsets[u + 1]);

    const deadline = ctx.maxMinutes ? t0 + ctx.maxMinutes * 60_000 : Infinity;
    const grad = new Float32Array(d); // p_u's gradient, held while q_i, q_j are updated
    let best = { ndcg: -1, epoch: 0 };
    let bestU = userF.slice();
    let bestI = itemF.slice();
    let bestB = itemB.slice();
    let sinceBest = 0;
    let epochsRun = 0;
    let lastLoss = 0;
    const eps = 1e-8;
    for (let epoch = 1; epoch <= prm.maxEpochs && numPairs > 0; epoch++) {
      let lossSum = 0;
      for (let step = 0; step < numPairs; step++) {
        const pIx = rng.int(numPairs);
        const u = pairUser[pIx];
        const i = rows.items[pIx];
        const rs = rows.offsets[u];
        const re = rows.offsets[u + 1];
        if (re - rs >= numItems) continue; // user has seen everything: no negative exists
        let j = rng.int(numItems);
        while (contains(rows.items, rs, re, j)) j = rng.int(numItems);
        const pu = u * d;
        const qi = i * d;
        const qj = j * d;
        let x = itemB[i] - itemB[j];
        for (let f = 0; f < d; f++) x += userF[pu + f] * (itemF[qi + f] - itemF[qj + f]);
        // dL/dx for L = −ln σ(x) is −σ(−x); we ascend g = σ(−x).
        const g = 1 / (1 + Math.exp(x));
        lossSum += x > 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x));
        for (let f = 0; f < d; f++) {
          const p = userF[pu + f];
          const a = itemF[qi + f];
          const b = itemF[qj + f];
          grad[f] = g * (a - b) - prm.reg * p;
          const gi = g * p - prm.reg * a;
          const gj = -g * p - prm.reg * b;
          gI[qi + f] += gi * gi;
          gI[qj + f] += gj * gj;
          itemF[qi + f] = a + (prm.lr * gi) / Math.sqrt(gI[qi + f] + eps);
          itemF[qj + f] = b + (prm.lr * gj) / Math.sqrt(gI[qj + f] + eps);
        }
        for (let f = 0; f < d; f++) {
          gU[pu + f] += grad[f] * grad[f];
          userF[pu + f] += (prm.lr * grad[f]) / Math.sqrt(gU[pu + f] + eps);
        }
        const gbi = g - prm.reg * itemB[i];
        const gbj = -g - prm.reg * itemB[j];
        gB[i] += gbi * gbi;
        gB[j] += gbj * gbj;
        itemB[i] += (prm.lr * gbi) / Math.sqrt(gB[i] + eps);
        itemB[j] += (prm.lr * gbj) / Math.sqrt(gB[j] + eps);
      }
      epochsRun = epoch;
      lastLoss = lossSum / numPairs;
      const outOfTime = performance.now() > deadline;
      if (epoch % prm.evalEvery === 0 || epoch === prm.maxEpochs || outOfTime) {
        const v = (await validate(this, ctx, { maxUsers: prm.validUsers }))['NDCG@10'];
        ctx.onProgress?.({ epoch, loss: lastLoss, valid: { 'NDCG@10': v }, elapsedSeconds: (performance.now() - t0) / 1000 });
        if (v > best.ndcg) {
          best = { ndcg: v, epoch };
          bestU = userF.slice();
          bestI = itemF.slice();
          bestB = itemB.slice();
          sinceBest = 0;
        } else if (++sinceBest >= prm.patience) break;
      }
      if (outOfTime) break;
    }
    this.userF = bestU;
    this.itemF = bestI;
    this.itemB = bestB;
    return {
      params: { ...prm, epochs: best.epoch },
      epochs: epochsRun,
      valid: { 'NDCG@10': best.ndcg, loss: lastLoss },
      trainSeconds: (performance.now() - t0) / 1000,
    };
  }

  toArtifacts(): SavedModel {
    const numUsers = this.dim > 0 ? this.userF.length / this.dim : 0;
    return {
      config: { params: { ...this.params }, dim: this.dim, numItems: this.numItems, numUsers },
      weights: { userF: this.userF.slice(), itemF: this.itemF.slice(), itemB: this.itemB.slice() },
    };
  }

  static fromArtifacts(saved: SavedModel): BprModel {
    const c = parseModelParams(
      'bpr',
      z.strictObject({ params: z.record(z.string(), z.unknown()), dim: z.number().int().min(0).max(1024), numItems: z.number().int().min(0), numUsers: z.number().int().min(0) }),
      saved.config,
    );
    const m = new BprModel(c.params);
    m.dim = c.dim;
    m.numItems = c.numItems;
    m.userF = savedTensor('bpr', saved.weights, 'userF', 'f32', c.numUsers * c.dim).slice();
    m.itemF = savedTensor('bpr', saved.weights, 'itemF', 'f32', c.numItems * c.dim).slice();
    m.itemB = savedTensor('bpr', saved.weights, 'itemB', 'f32', c.numItems).slice();
    return m;
  }

  dispose(): void {}

  /** out[r, j] = p_u · q_j + b_j for u = userIxs[r]. */
  scoreBatch(_histories: Sequences, userIxs: Int32Array, out: Float32Array): void {
    const { dim: d, numItems: n, userF, itemF, itemB } = this;
    for (let r = 0; r < userIxs.length; r++) {
      const pu = userIxs[r] * d;
      const off = r * n;
      let j = 0;
      // Four items per pass share each load of p_u.
      for (; j + 4 <= n; j += 4) {
        const q0 = j * d;
        const q1 = q0 + d;
        const q2 = q1 + d;
        const q3 = q2 + d;
        let s0 = itemB[j];
        let s1 = itemB[j + 1];
        let s2 = itemB[j + 2];
        let s3 = itemB[j + 3];
        for (let f = 0; f < d; f++) {
          const p = userF[pu + f];
          s0 += p * itemF[q0 + f];
          s1 += p * itemF[q1 + f];
          s2 += p * itemF[q2 + f];
          s3 += p * itemF[q3 + f];
        }
        out[off + j] = s0;
        out[off + j + 1] = s1;
        out[off + j + 2] = s2;
        out[off + j + 3] = s3;
      }
      for (; j < n; j++) {
        const qj = j * d;
        let s = itemB[j];
        for (let f = 0; f < d; f++) s += userF[pu + f] * itemF[qj + f];
        out[off + j] = s;
      }
    }
  }
}

/** Binary search for v in the ascending slice a[s..e). */
function contains(a: Int32Array, s: number, e: number, v: number): boolean {
  let lo = s;
  let hi = e;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < e && a[lo] === v;
}
