/**
 * Fusing ranked lists from the lexical and semantic retrievers.
 *
 * - Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009, "Reciprocal rank fusion outperforms
 *   Condorcet and individual rank learning methods"): score(d) = Σ_lists w_l / (k + rank_l(d)), ranks
 *   from 1, k = 60 in the paper. Needs no score calibration, which is exactly what BM25 and cosine lack.
 * - A learned blend: logistic regression on per-candidate features (normalised BM25, cosine, RRF,
 *   log-popularity, …), fitted by full-batch gradient descent with L2 on labelled training queries. The
 *   probability is used as the ranking score.
 */
import { ValidationError } from '../core/errors.js';

/** A ranked list: ixs best first. */
export interface RankedList {
  ixs: ArrayLike<number>;
  count: number;
}

/**
 * RRF over lists. Returns a map ix → fused score (callers sort). weights default to 1 per list.
 * Ranks are 1-based; an item absent from a list contributes nothing for it.
 */
export function reciprocalRankFusion(lists: readonly RankedList[], k = 60, weights?: readonly number[]): Map<number, number> {
  if (!(k >= 0) || !Number.isFinite(k)) throw new ValidationError('RRF k must be a finite number >= 0', [{ path: 'k', message: `got ${k}` }]);
  if (weights && weights.length !== lists.length) {
    throw new ValidationError('one weight per list', [{ path: 'weights', message: `${weights.length} weights for ${lists.length} lists` }]);
  }
  const out = new Map<number, number>();
  lists.forEach((l, li) => {
    const w = weights ? weights[li] : 1;
    for (let r = 0; r < l.count; r++) {
      const ix = l.ixs[r];
      out.set(ix, (out.get(ix) ?? 0) + w / (k + r + 1));
    }
  });
  return out;
}

/** Sorts a fused map into ixs/scores, best first (ties: smaller ix first), keeping the top n. */
export function topOfMap(m: Map<number, number>, n: number): { ixs: Int32Array; scores: Float32Array } {
  const entries = [...m.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n);
  return { ixs: Int32Array.from(entries, (e) => e[0]), scores: Float32Array.from(entries, (e) => e[1]) };
}

/** Logistic-regression blend: p = σ(b + Σ w_f x_f). */
export class LogisticBlend {
  constructor(
    readonly weights: Float64Array,
    public bias = 0,
  ) {}

  get numFeatures(): number {
    return this.weights.length;
  }

  score(x: ArrayLike<number>, offset = 0): number {
    let z = this.bias;
    for (let f = 0; f < this.weights.length; f++) z += this.weights[f] * x[offset + f];
    return 1 / (1 + Math.exp(-z));
  }

  /**
   * Fits on X: [n, f] and labels y: [n] in {0, 1} by full-batch gradient descent on the mean log-loss
   * + l2/2 · |w|². Positives are re-weighted to balance the classes (retrieval candidates are mostly
   * negatives). Deterministic.
   */
  static fit(X: Float64Array, y: Uint8Array, numFeatures: number, opts: { l2?: number; iterations?: number; lr?: number } = {}): LogisticBlend {
    const n = y.length;
    if (X.length !== n * numFeatures) {
      throw new ValidationError('X and y disagree on rows', [{ path: 'X', message: `${X.length} values for ${n} rows of ${numFeatures}` }]);
    }
    const l2 = opts.l2 ?? 1e-3;
    const iters = opts.iterations ?? 500;
    const lr = opts.lr ?? 0.5;
    let pos = 0;
    for (let i = 0; i < n; i++) pos += y[i];
    const wPos = pos > 0 ? (n - pos) / pos : 1;
    const w = new Float64Array(numFeatures);
    let b = 0;
    const gw = new Float64Array(numFeatures);
    let totalW = 0;
    for (let i = 0; i < n; i++) totalW += y[i] ? wPos : 1;
    for (let it = 0; it < iters; it++) {
      gw.fill(0);
      let gb = 0;
      for (let i = 0; i < n; i++) {
        let z = b;
        for (let f = 0; f < numFeatures; f++) z += w[f] * X[i * numFeatures + f];
        const p = 1 / (1 + Math.exp(-z));
        const sw = y[i] ? wPos : 1;
        const g = sw * (p - y[i]);
        for (let f = 0; f < numFeatures; f++) gw[f] += g * X[i * numFeatures + f];
        gb += g;
      }
      for (let f = 0; f < numFeatures; f++) w[f] -= lr * (gw[f] / totalW + l2 * w[f]);
      b -= (lr * gb) / totalW;
    }
    return new LogisticBlend(w, b);
  }

  /**
   * Fits the weights as a ranker (RankNet, Burges et al. 2005): for candidate pairs of one query with
   * rel_i > rel_j, minimise log(1 + exp(−w·(x_i − x_j))), each pair weighted by its gain difference
   * 2^rel_i − 2^rel_j (as LambdaRank weights pairs by what swapping them costs). Graded labels are used
   * as such, so "relevant and well known" can outrank "relevant". At most maxPairsPerQuery pairs per
   * query, sampled with `seed`. X: [n, f]; rel: [n] graded relevance ≥ 0; offsets: [queries + 1].
   */
  static fitPairwise(
    X: Float64Array,
    rel: Float32Array,
    offsets: Int32Array,
    numFeatures: number,
    opts: {
      l2?: number;
      /** Newton steps (at most 50). */
      iterations?: number;
      maxPairsPerQuery?: number;
      seed?: number;
      exclude?: readonly number[];
      /** queryWeights: [queries] multiplies every pair of that query (default 1). */
      queryWeights?: ArrayLike<number>;
    } = {},
  ): LogisticBlend {
    const F = numFeatures;
    const keep = new Uint8Array(F).fill(1);
    for (const f of opts.exclude ?? []) keep[f] = 0;
    if (X.length !== rel.length * F) {
      throw new ValidationError('X and rel disagree on rows', [{ path: 'X', message: `${X.length} values for ${rel.length} rows of ${F}` }]);
    }
    const l2 = opts.l2 ?? 1e-3;
    const iters = opts.iterations ?? 30;
    const maxPairs = opts.maxPairsPerQuery ?? 1_000;
    let seed = (opts.seed ?? 1) >>> 0;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return Math.floor((seed / 4294967296) * n);
    };
    const diffs: number[] = [];
    const weights: number[] = [];
    for (let q = 0; q + 1 < offsets.length; q++) {
      const lo = offsets[q];
      const hi = offsets[q + 1];
      const pos: number[] = [];
      for (let i = lo; i < hi; i++) if (rel[i] > 0) pos.push(i);
      if (pos.length === 0 || pos.length === hi - lo) continue;
      for (let t = 0; t < maxPairs; t++) {
        const i = pos[rand(pos.length)];
        const j = lo + rand(hi - lo);
        if (rel[i] <= rel[j]) continue;
        // An excluded feature gets a zero column, hence zero gradient and weight (ablations).
        for (let f = 0; f < F; f++) diffs.push(keep[f] ? X[i * F + f] - X[j * F + f] : 0);
        weights.push((2 ** rel[i] - 2 ** rel[j]) * (opts.queryWeights ? opts.queryWeights[q] : 1));
      }
    }
    const P = weights.length;
    const w = new Float64Array(F);
    if (P === 0) return new LogisticBlend(w, 0);
    const D = Float64Array.from(diffs);
    let totalW = 0;
    for (const x of weights) totalW += x;
    // Newton's method (the loss is convex and F is tiny: an F×F system per step), with step halving
    // so the objective never increases. Converges in a handful of steps where gradient descent on the
    // same budget stayed far from the optimum.
    const loss = (v: Float64Array): number => {
      let l = 0;
      for (let p = 0; p < P; p++) {
        let z = 0;
        for (let f = 0; f < F; f++) z += v[f] * D[p * F + f];
        l += weights[p] * (z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z)));
      }
      let r = 0;
      for (let f = 0; f < F; f++) r += v[f] * v[f];
      return l / totalW + (l2 / 2) * r;
    };
    const g = new Float64Array(F);
    const H = new Float64Array(F * F);
    let current = loss(w);
    for (let it = 0; it < Math.min(iters, 50); it++) {
      g.fill(0);
      H.fill(0);
      for (let p = 0; p < P; p++) {
        let z = 0;
        for (let f = 0; f < F; f++) z += w[f] * D[p * F + f];
        const sig = 1 / (1 + Math.exp(-z)); // σ(z)
        const gs = (-weights[p] * (1 - sig)) / totalW; // d/dz log(1 + e^{−z}) = −σ(−z)
        const hs = (weights[p] * sig * (1 - sig)) / totalW;
        for (let a = 0; a < F; a++) {
          const da = D[p * F + a];
          if (da === 0) continue;
          g[a] += gs * da;
          for (let b = a; b < F; b++) H[a * F + b] += hs * da * D[p * F + b];
        }
      }
      for (let a = 0; a < F; a++) {
        g[a] += l2 * w[a];
        H[a * F + a] += l2 + 1e-9;
        for (let b = 0; b < a; b++) H[a * F + b] = H[b * F + a];
      }
      const step = solveSymmetric(H, g, F);
      let t = 1;
      let next = new Float64Array(F);
      let nextLoss = Infinity;
      for (let k = 0; k < 30; k++, t /= 2) {
        for (let f = 0; f < F; f++) next[f] = w[f] - t * step[f];
        nextLoss = loss(next);
        if (nextLoss <= current) break;
      }
      if (!(nextLoss <= current)) break;
      const gain = current - nextLoss;
      w.set(next);
      current = nextLoss;
      next = new Float64Array(F);
      if (gain < 1e-9) break;
    }
    return new LogisticBlend(w, 0);
  }
}

/** Solves A x = b for a symmetric positive-definite A: [n, n] by Cholesky (A is not modified). */
export function solveSymmetric(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new ValidationError('matrix is not positive definite', [{ path: 'A', message: `pivot ${i} is ${s}` }]);
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j];
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}
