/**
 * The two-tower model's user tower at request time (twotower.ts, "user" in the header; Covington et al.
 * 2016 §3, Yi et al. 2019 §3): one user vector from the user's newest ≤ historyLen items, so the served
 * `home` ranks items by u·v_i exactly as the model was trained and validated — not by a mean of item
 * vectors. Single user, no allocation per call (the input, hidden and output rows are reused).
 *
 * Also the first two moments of u·v over the whole catalogue without scanning it: mean = u·μ and
 * var = uᵀΣu, with μ: [D] the mean item vector and Σ: [D, D] their covariance, computed once at load.
 * Blending standardises each model's scores per user (z = (s − mean)/std over all items, as the offline
 * blend does), and these make that O(D²) per request instead of O(items·D).
 *
 * The per-user id embedding (config userIdEmbedding) is not served: users who arrived after training have
 * no row, so the loader refuses such a model for the user tower (its item vectors still serve).
 */
import { ValidationError } from '../core/errors.js';
import { TwoTowerConfigSchema, type TwoTowerConfig } from './twotower.js';

export class TwoTowerUserEncoder {
  readonly numItems: number;
  readonly dim: number;
  readonly historyLen: number;
  private readonly c: TwoTowerConfig;
  /** P: [numItems, D] history item table (E when tied); A1: [H, A], c1: [H], A2: [D, H], c2: [D]. */
  private readonly P: Float32Array;
  private readonly A1: Float32Array;
  private readonly c1: Float32Array;
  private readonly A2: Float32Array;
  private readonly c2: Float32Array;
  /** mu: [D] mean item vector; cov: [D, D] item vector covariance (for the score moments). */
  private readonly mu: Float64Array;
  private readonly cov: Float64Array;
  /** Scratch: a: [A] tower input, h: [H] hidden, w: [L] recency weights, z: [D]. */
  private readonly a: Float32Array;
  private readonly h: Float32Array;
  private readonly w: Float32Array;
  private readonly z: Float64Array;

  /**
   * config: the model config (TwoTowerConfigSchema fields, extra keys ignored); params: the artifact's
   * weights (E or P, A1, c1, A2, c2); itemVectors: [numItems, D] unit item vectors (the item tower's output).
   */
  constructor(config: Record<string, unknown>, params: Record<string, Float32Array | Int32Array>, itemVectors: Float32Array) {
    const known = Object.fromEntries(Object.entries(config).filter(([k]) => k in TwoTowerConfigSchema.shape));
    this.c = TwoTowerConfigSchema.parse(known);
    if (this.c.userIdEmbedding) {
      throw new ValidationError('two-tower user tower with per-user id embeddings cannot serve users unseen in training', [{ path: 'config.userIdEmbedding', message: 'must be false to serve the user tower' }]);
    }
    const D = (this.dim = this.c.dim);
    const H = this.c.hidden;
    const A = (2 + this.c.lastItems) * D;
    const f32 = (name: string, length: number): Float32Array => {
      const t = params[name];
      if (!(t instanceof Float32Array) || t.length !== length) {
        throw new ValidationError(`two-tower weight ${name} has the wrong shape`, [{ path: `weights.${name}`, message: `expected ${length} floats` }]);
      }
      return t;
    };
    if (itemVectors.length % D !== 0) throw new ValidationError('item vectors do not split into rows', [{ path: 'weights.itemVectors', message: `length ${itemVectors.length} is not a multiple of ${D}` }]);
    this.numItems = itemVectors.length / D;
    this.historyLen = this.c.historyLen;
    this.P = f32(this.c.tieEmbeddings ? 'E' : 'P', this.numItems * D);
    this.A1 = f32('A1', H * A);
    this.c1 = f32('c1', H);
    this.A2 = f32('A2', D * H);
    this.c2 = f32('c2', D);
    this.a = new Float32Array(A);
    this.h = new Float32Array(H);
    this.w = new Float32Array(this.historyLen);
    this.z = new Float64Array(D);
    // Moments of the item vectors: μ = mean v, Σ = E[v vᵀ] − μμᵀ (float64 sums).
    const N = this.numItems;
    this.mu = new Float64Array(D);
    this.cov = new Float64Array(D * D);
    for (let i = 0; i < N; i++) {
      const o = i * D;
      for (let p = 0; p < D; p++) {
        const vp = itemVectors[o + p];
        this.mu[p] += vp;
        for (let q = p; q < D; q++) this.cov[p * D + q] += vp * itemVectors[o + q];
      }
    }
    for (let p = 0; p < D; p++) this.mu[p] /= Math.max(1, N);
    for (let p = 0; p < D; p++) {
      for (let q = p; q < D; q++) {
        const c = this.cov[p * D + q] / Math.max(1, N) - this.mu[p] * this.mu[q];
        this.cov[p * D + q] = c;
        this.cov[q * D + p] = c;
      }
    }
  }

  /**
   * u: [D] ← the unit user vector for history rows[0..n) (model item ixs, oldest first; the newest
   * historyLen are used). Returns false (u untouched) when the history is empty.
   */
  encode(rows: ArrayLike<number>, n: number, u: Float32Array): boolean {
    const D = this.dim, H = this.c.hidden, K = this.c.lastItems;
    const A = this.a.length;
    const len = Math.min(n, this.historyLen);
    if (len <= 0) return false;
    const first = n - len;
    const a = this.a.fill(0);
    // Recency weights w_k ∝ decay^(len-1-k), Σ w = 1 (as the training forward).
    const w = this.w;
    let s = 0, p = 1;
    for (let k = len - 1; k >= 0; k--) {
      w[k] = p;
      s += p;
      p *= this.c.recencyDecay;
    }
    const inv = 1 / len;
    for (let k = 0; k < len; k++) {
      const po = rows[first + k] * D;
      const wk = w[k] / s;
      for (let j = 0; j < D; j++) {
        const e = this.P[po + j];
        a[j] += inv * e; // mean pool
        a[D + j] += wk * e; // recency pool
      }
    }
    for (let q = 0; q < K && q < len; q++) {
      const lo = rows[n - 1 - q] * D;
      for (let j = 0; j < D; j++) a[(2 + q) * D + j] = this.P[lo + j];
    }
    // h = relu(A1 a + c1): [H]
    const h = this.h;
    for (let j = 0; j < H; j++) {
      let acc = this.c1[j];
      const ro = j * A;
      for (let i = 0; i < A; i++) acc += this.A1[ro + i] * a[i];
      h[j] = acc > 0 ? acc : 0;
    }
    // z = recency pool + c2 + A2 h: [D]; u = z / |z|
    const z = this.z;
    let norm = 0;
    for (let d = 0; d < D; d++) {
      let acc = a[D + d] + this.c2[d];
      const ro = d * H;
      for (let j = 0; j < H; j++) acc += this.A2[ro + j] * h[j];
      z[d] = acc;
      norm += acc * acc;
    }
    const scale = norm > 0 ? 1 / Math.sqrt(Math.max(norm, 1e-24)) : 0;
    for (let d = 0; d < D; d++) u[d] = z[d] * scale;
    return true;
  }

  /** Mean and standard deviation of u·v_i over all items (u from encode). */
  scoreMoments(u: Float32Array): { mean: number; std: number } {
    const D = this.dim;
    let mean = 0, variance = 0;
    for (let p = 0; p < D; p++) {
      mean += u[p] * this.mu[p];
      let row = 0;
      for (let q = 0; q < D; q++) row += this.cov[p * D + q] * u[q];
      variance += u[p] * row;
    }
    return { mean, std: Math.sqrt(Math.max(0, variance)) };
  }
}
