/**
 * Two-tower retrieval model: the math (config → layers → forward → loss → backward → Adam), nothing
 * about files, stores or HTTP. The training loop, sampling and early stopping live in twotower-train.ts.
 *
 * Papers and the choices taken from them:
 * - Covington, Adams & Sargin 2016, "Deep Neural Networks for YouTube Recommendations" §3: the user is an
 *   MLP over pooled embeddings of the watch history; candidate generation is a softmax over items served
 *   by nearest-neighbour search on the item vectors (src/index/ann.ts).
 * - Yi et al. 2019, "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations"
 *   (RecSys '19) §3–4: two towers, L2-normalised outputs with a temperature, in-batch softmax whose logits
 *   are corrected by subtracting log(sampling probability) of each candidate item (logQ correction).
 *   Deviation: item frequencies are counted exactly from the training data instead of streamed.
 * - Yang et al. 2020, "Mixed Negative Sampling for Learning Two-tower Neural Networks" (WWW '20): the
 *   in-batch candidates are joined by uniformly sampled items, and the correction uses each candidate's
 *   probability under the mixture of the two samplers.
 *
 * Towers (D = output dim, H = hidden width, L = history length, all rows row-major Float32Array):
 *   item i:  x = E[i] + mean_{f ∈ feats(i)} F[f]               E: [numItems, D], F: [hashBuckets, D]
 *            z = x + W2·relu(W1·x + b1) + b2                   W1: [H, D], W2: [D, H]
 *            v = z / |z|
 *   user:    hist = last ≤ L items, embeddings from P: [numItems, D] (by default tied: P is E)
 *            a = [mean(P[hist]) ; Σ_k w_k P[hist_k] ; P[last] ; … ; P[K-th last] (; U[user])]
 *                w_k ∝ decay^(age_k); empty slots (history shorter than K) are zeros
 *            z = Σ_k w_k P[hist_k] + A2·relu(A1·a + c1) + c2   A1: [H, A], A2: [D, H], A = (2+K)D (+D)
 *            u = z / |z|
 *   score(u, i) = u·v_i / τ; serving ranks by u·v (τ and logQ only shape training).
 * Residual paths (x and the recency pool) make the towers start near "average of embeddings" and let the
 * MLPs learn corrections, which trains faster than a bare MLP at these sizes.
 */
import { z } from 'zod';
import { Rng } from '../core/rng.js';

// ---------------------------------------------------------------- config

export const TwoTowerConfigSchema = z.strictObject({
  /** Output (and embedding) dimension D. */
  dim: z.number().int().min(4).max(512).default(64),
  /** MLP hidden width H of both towers. */
  hidden: z.number().int().min(4).max(2048).default(128),
  /** History items pooled by the user tower (most recent L). */
  historyLen: z.number().int().min(1).max(1000).default(50),
  /** Per-step decay of the recency-weighted pool: weight of the k-th most recent item ∝ decay^k. */
  recencyDecay: z.number().gt(0).max(1).default(0.8),
  /** The K most recent items each get their own input slot (order-aware signal for next-item intent). */
  lastItems: z.number().int().min(1).max(16).default(1),
  /**
   * History items use the item tower's id table E instead of a separate table P: every interaction then
   * trains one table from both sides. Chosen by validation NDCG@10 on ML-1M and ML-100K (+5-8%).
   */
  tieEmbeddings: z.boolean().default(true),
  /** Add a per-user id embedding to the user tower (helps when users have long, stable tastes). */
  userIdEmbedding: z.boolean().default(false),
  /** Hash buckets for item side features (creator, tags, title words and bigrams); 0 disables them. */
  hashBuckets: z.number().int().min(0).max(1 << 22).default(1 << 15),
  /** Softmax temperature τ on cosine scores. */
  temperature: z.number().gt(0).max(10).default(0.1),
  /** Examples per batch B (also the number of in-batch candidates). */
  batchSize: z.number().int().min(2).max(8192).default(256),
  /** Extra uniformly sampled negative candidates S shared by the batch. */
  sampledNegatives: z.number().int().min(0).max(65536).default(256),
  lr: z.number().gt(0).max(1).default(2e-3),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  /** Decoupled weight decay (AdamW) on the MLP weights. */
  weightDecay: z.number().min(0).max(1).default(0),
  /** Initial std of the embedding tables. */
  initStd: z.number().gt(0).max(1).default(0.1),
});
export type TwoTowerConfigInput = z.input<typeof TwoTowerConfigSchema>;
export type TwoTowerConfig = z.output<typeof TwoTowerConfigSchema>;

// ---------------------------------------------------------------- item side features (hashed)

/** Per-item hashed feature buckets in CSR form: item i's buckets are ix[offsets[i] .. offsets[i+1]). */
export interface ItemFeatures {
  offsets: Int32Array; // [numItems + 1]
  ix: Int32Array; // [nnz] bucket indexes in 0..hashBuckets-1
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Caps per item so a pathological title cannot blow up a batch. */
const MAX_FEATURES_PER_ITEM = 64;

/**
 * Hashes creator, tags, title words and word bigrams into buckets. Items without side info get no
 * features (their tower is the id embedding alone).
 */
export function hashItemFeatures(
  numItems: number,
  buckets: number,
  side?: { tags?: string[][]; titles?: string[]; creators?: (string | undefined)[] },
): ItemFeatures {
  const offsets = new Int32Array(numItems + 1);
  const ix: number[] = [];
  for (let i = 0; i < numItems; i++) {
    if (buckets > 0 && side) {
      const feats = new Set<number>();
      const creator = side.creators?.[i];
      if (creator) feats.add(fnv(`c:${creator}`) % buckets);
      for (const t of side.tags?.[i] ?? []) feats.add(fnv(`t:${t.toLowerCase()}`) % buckets);
      const words = (side.titles?.[i] ?? '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
      for (let w = 0; w < words.length; w++) {
        feats.add(fnv(`w:${words[w]}`) % buckets);
        if (w > 0) feats.add(fnv(`b:${words[w - 1]} ${words[w]}`) % buckets);
      }
      let n = 0;
      for (const f of feats) {
        if (n++ >= MAX_FEATURES_PER_ITEM) break;
        ix.push(f);
      }
    }
    offsets[i + 1] = ix.length;
  }
  return { offsets, ix: Int32Array.from(ix) };
}

// ---------------------------------------------------------------- dense kernels
// Plain cache-friendly loops over flat arrays; the contiguous inner dimension is unrolled by 4.

/** C[m, n] (+)= A[m, k] · B[n, k]^T   (linear layer forward with W stored [out, in]). */
export function matmulNT(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate = false): void {
  const n4 = n - (n % 4);
  for (let i = 0; i < m; i++) {
    const ao = i * k, co = i * n;
    let j = 0;
    // 1×4 register block: each A element is loaded once for four dot products.
    for (; j < n4; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const a = A[ao + p];
        s0 += a * B[b0 + p];
        s1 += a * B[b1 + p];
        s2 += a * B[b2 + p];
        s3 += a * B[b3 + p];
      }
      if (accumulate) {
        C[co + j] += s0; C[co + j + 1] += s1; C[co + j + 2] += s2; C[co + j + 3] += s3;
      } else {
        C[co + j] = s0; C[co + j + 1] = s1; C[co + j + 2] = s2; C[co + j + 3] = s3;
      }
    }
    for (; j < n; j++) {
      const bo = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[ao + p] * B[bo + p];
      C[co + j] = accumulate ? C[co + j] + s : s;
    }
  }
}

/** C[m, n] (+)= A[m, k] · B[k, n]   (input gradient: dX = dY · W). */
export function matmulNN(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate = false): void {
  if (!accumulate) C.fill(0, 0, m * n);
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const co = i * n, ao = i * k;
    let p = 0;
    // Four rows of B per pass over C's row: one load/store of C per four multiply-adds.
    for (; p < k4; p += 4) {
      const a0 = A[ao + p], a1 = A[ao + p + 1], a2 = A[ao + p + 2], a3 = A[ao + p + 3];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue; // ReLU zeros are common
      const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) C[co + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
    }
    for (; p < k; p++) {
      const a = A[ao + p];
      if (a === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) C[co + j] += a * B[bo + j];
    }
  }
}

/** C[m, n] += A[k, m]^T · B[k, n]   (weight gradient: dW += dY^T · X). */
export function matmulTN(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number): void {
  const k4 = k - (k % 4);
  let p = 0;
  for (; p < k4; p += 4) {
    const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
    const r0 = p * m, r1 = r0 + m, r2 = r1 + m, r3 = r2 + m;
    for (let i = 0; i < m; i++) {
      const a0 = A[r0 + i], a1 = A[r1 + i], a2 = A[r2 + i], a3 = A[r3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const co = i * n;
      for (let j = 0; j < n; j++) C[co + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
    }
  }
  for (; p < k; p++) {
    const bo = p * n;
    for (let i = 0; i < m; i++) {
      const a = A[p * m + i];
      if (a === 0) continue;
      const co = i * n;
      for (let j = 0; j < n; j++) C[co + j] += a * B[bo + j];
    }
  }
}

/**
 * The three matmul shapes the towers need. The TS loops above are the reference; twotower-kernels.ts
 * supplies the same interface on the WASM SIMD kernels (src/models/kernels), checked against these.
 */
export interface Matmuls {
  nt(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate?: boolean): void;
  nn(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate?: boolean): void;
  /** Always accumulates (weight gradients). */
  tn(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number): void;
}
export const tsMatmuls: Matmuls = { nt: matmulNT, nn: matmulNN, tn: matmulTN };

/** y[r, :] = x[r, :] / |x[r, :]|; keeps 1/|x| per row in invNorm for the backward pass. */
function l2normalize(x: Float32Array, y: Float32Array, invNorm: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] * x[r * d + j];
    const inv = 1 / Math.sqrt(s + 1e-12);
    invNorm[r] = inv;
    for (let j = 0; j < d; j++) y[r * d + j] = x[r * d + j] * inv;
  }
}

/** dx = (dy - y (y·dy)) / |x|, row-wise (the Jacobian of x ↦ x/|x|). Writes into dy's buffer dx. */
function l2normalizeBackward(y: Float32Array, dy: Float32Array, invNorm: Float32Array, dx: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += y[r * d + j] * dy[r * d + j];
    for (let j = 0; j < d; j++) dx[r * d + j] = (dy[r * d + j] - y[r * d + j] * dot) * invNorm[r];
  }
}

// ---------------------------------------------------------------- parameters

/** Every trainable tensor by name (flat, row-major); embedding tables get lazy (touched-rows) updates. */
export interface TwoTowerParams {
  E: Float32Array; // [numItems, D]   item id embedding (item tower)
  F: Float32Array; // [hashBuckets, D] hashed side-feature embedding (item tower)
  W1: Float32Array; // [H, D]
  b1: Float32Array; // [H]
  W2: Float32Array; // [D, H]
  b2: Float32Array; // [D]
  P: Float32Array; // [numItems, D]   history item embedding (user tower input)
  U: Float32Array; // [numUsers, D] or [0] when userIdEmbedding is off
  A1: Float32Array; // [H, A]  A = 3D or 4D
  c1: Float32Array; // [H]
  A2: Float32Array; // [D, H]
  c2: Float32Array; // [D]
}
export type ParamName = keyof TwoTowerParams;
export const PARAM_NAMES: ParamName[] = ['E', 'F', 'W1', 'b1', 'W2', 'b2', 'P', 'U', 'A1', 'c1', 'A2', 'c2'];
const TABLES: ReadonlySet<ParamName> = new Set<ParamName>(['E', 'F', 'P', 'U']);

/** User-tower input width A: mean pool, recency pool, K last-item slots, optional user id. */
export function userInputDim(c: TwoTowerConfig): number {
  return (2 + c.lastItems + (c.userIdEmbedding ? 1 : 0)) * c.dim;
}

export function initParams(c: TwoTowerConfig, numItems: number, numUsers: number, rng: Rng): TwoTowerParams {
  const D = c.dim, H = c.hidden, A = userInputDim(c);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    return a;
  };
  return {
    E: normal(numItems * D, c.initStd),
    F: normal(c.hashBuckets * D, c.initStd),
    W1: normal(H * D, Math.sqrt(2 / D)),
    b1: new Float32Array(H),
    W2: normal(D * H, 0.1 * Math.sqrt(1 / H)), // small: the residual path dominates at the start
    b2: new Float32Array(D),
    P: c.tieEmbeddings ? new Float32Array(0) : normal(numItems * D, c.initStd),
    U: c.userIdEmbedding ? normal(numUsers * D, c.initStd) : new Float32Array(0),
    A1: normal(H * A, Math.sqrt(2 / A)),
    c1: new Float32Array(H),
    A2: normal(D * H, 0.1 * Math.sqrt(1 / H)),
    c2: new Float32Array(D),
  };
}

export function zerosLike(p: TwoTowerParams): TwoTowerParams {
  const out = {} as TwoTowerParams;
  for (const k of PARAM_NAMES) out[k] = new Float32Array(p[k].length);
  return out;
}

// ---------------------------------------------------------------- batch

/** One training batch. Histories are left-aligned, oldest first, at most L items each. */
export interface TwoTowerBatch {
  size: number; // B
  userIxs: Int32Array; // [B]
  hist: Int32Array; // [B, L]
  histLen: Int32Array; // [B] in 1..L (0 allowed: empty history)
  /** Candidate items [C]: the B targets first (row b's positive is column b), then S sampled negatives. */
  cands: Int32Array; // [C]
  /** log of each candidate's sampling probability (logQ correction) [C]. */
  logQ: Float32Array; // [C]
}

// ---------------------------------------------------------------- the network

interface ItemCache {
  n: number;
  ixs: Int32Array; // [n]
  x: Float32Array; // [n, D]
  pre: Float32Array; // [n, H] W1·x + b1
  h: Float32Array; // [n, H] relu(pre)
  z: Float32Array; // [n, D]
  v: Float32Array; // [n, D]
  inv: Float32Array; // [n]
}

interface UserCache {
  n: number;
  a: Float32Array; // [n, A]
  h: Float32Array; // [n, H]
  z: Float32Array; // [n, D]
  u: Float32Array; // [n, D]
  inv: Float32Array; // [n]
}

export class TwoTowerNet {
  readonly c: TwoTowerConfig;
  readonly numItems: number;
  readonly numUsers: number;
  readonly feats: ItemFeatures;
  params: TwoTowerParams;
  grads: TwoTowerParams;
  /** Rows of each table touched by the current batch (lazy Adam updates only these). */
  private touched = new Map<ParamName, { mark: Uint8Array; rows: number[] }>();
  private m: TwoTowerParams;
  private v: TwoTowerParams;
  step = 0;
  /** Matmul implementation (TS reference by default). */
  mm: Matmuls;

  constructor(c: TwoTowerConfig, numItems: number, numUsers: number, feats: ItemFeatures, rng: Rng, params?: TwoTowerParams, mm: Matmuls = tsMatmuls) {
    this.mm = mm;
    this.c = c;
    this.numItems = numItems;
    this.numUsers = numUsers;
    this.feats = feats;
    this.params = params ?? initParams(c, numItems, numUsers, rng);
    this.grads = zerosLike(this.params);
    this.m = zerosLike(this.params);
    this.v = zerosLike(this.params);
    for (const k of TABLES) {
      const rows = this.params[k].length / c.dim;
      this.touched.set(k, { mark: new Uint8Array(rows), rows: [] });
    }
  }

  private touch(k: ParamName, row: number): void {
    const t = this.touched.get(k)!;
    if (!t.mark[row]) {
      t.mark[row] = 1;
      t.rows.push(row);
    }
  }

  // ---------------------------------------------------------------- item tower

  /** Forward for items ixs: [n] → cache with v: [n, D]. */
  itemForward(ixs: Int32Array): ItemCache {
    const { dim: D, hidden: H } = this.c;
    const n = ixs.length;
    const { E, F, W1, b1, W2, b2 } = this.params;
    const x = new Float32Array(n * D);
    for (let r = 0; r < n; r++) {
      const i = ixs[r];
      const xo = r * D, eo = i * D;
      for (let j = 0; j < D; j++) x[xo + j] = E[eo + j];
      const f0 = this.feats.offsets[i], f1 = this.feats.offsets[i + 1];
      if (f1 > f0) {
        const w = 1 / (f1 - f0);
        for (let f = f0; f < f1; f++) {
          const fo = this.feats.ix[f] * D;
          for (let j = 0; j < D; j++) x[xo + j] += w * F[fo + j];
        }
      }
    }
    const pre = new Float32Array(n * H);
    this.mm.nt(x, W1, pre, n, H, D); // pre: [n, H]
    const h = new Float32Array(n * H);
    for (let r = 0; r < n; r++) for (let j = 0; j < H; j++) {
      const p = pre[r * H + j] + b1[j];
      pre[r * H + j] = p;
      h[r * H + j] = p > 0 ? p : 0;
    }
    const zz = new Float32Array(n * D);
    this.mm.nt(h, W2, zz, n, D, H); // [n, D]
    for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) zz[r * D + j] += x[r * D + j] + b2[j];
    const v = new Float32Array(n * D);
    const inv = new Float32Array(n);
    l2normalize(zz, v, inv, n, D);
    return { n, ixs, x, pre, h, z: zz, v, inv };
  }

  /** dv: [n, D] → accumulates into grads of E, F, W1, b1, W2, b2. */
  itemBackward(cache: ItemCache, dv: Float32Array): void {
    const { dim: D, hidden: H } = this.c;
    const { n, ixs, x, pre, h, v, inv } = cache;
    const g = this.grads;
    const dz = new Float32Array(n * D);
    l2normalizeBackward(v, dv, inv, dz, n, D);
    // z = x + W2 h + b2
    for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) g.b2[j] += dz[r * D + j];
    this.mm.tn(dz, h, g.W2, D, H, n); // dW2: [D, H] += dz^T [D, n] · h [n, H]
    const dh = new Float32Array(n * H);
    this.mm.nn(dz, this.params.W2, dh, n, H, D); // dh: [n, H] = dz [n, D] · W2 [D, H]
    for (let r = 0; r < n * H; r++) if (pre[r] <= 0) dh[r] = 0;
    for (let r = 0; r < n; r++) for (let j = 0; j < H; j++) g.b1[j] += dh[r * H + j];
    this.mm.tn(dh, x, g.W1, H, D, n); // dW1: [H, D]
    const dx = dz; // residual: dx = dz + W1^T dh  (reuse dz's buffer)
    this.mm.nn(dh, this.params.W1, dx, n, D, H, true);
    for (let r = 0; r < n; r++) {
      const i = ixs[r];
      const eo = i * D, xo = r * D;
      this.touch('E', i);
      for (let j = 0; j < D; j++) g.E[eo + j] += dx[xo + j];
      const f0 = this.feats.offsets[i], f1 = this.feats.offsets[i + 1];
      if (f1 > f0) {
        const w = 1 / (f1 - f0);
        for (let f = f0; f < f1; f++) {
          const b = this.feats.ix[f];
          this.touch('F', b);
          const fo = b * D;
          for (let j = 0; j < D; j++) g.F[fo + j] += w * dx[xo + j];
        }
      }
    }
  }

  // ---------------------------------------------------------------- user tower

  /** Recency weights for a history of length len: w_k ∝ decay^(len-1-k), Σ w = 1. Writes into w[0..len). */
  private recencyWeights(len: number, w: Float32Array): void {
    let s = 0, p = 1;
    for (let k = len - 1; k >= 0; k--) {
      w[k] = p;
      s += p;
      p *= this.c.recencyDecay;
    }
    for (let k = 0; k < len; k++) w[k] /= s;
  }

  /** Forward for n users. hist: [n, L] left-aligned, histLen: [n] → cache with u: [n, D]. */
  userForward(userIxs: Int32Array, hist: Int32Array, histLen: Int32Array, n: number): UserCache {
    const { dim: D, hidden: H, historyLen: L } = this.c;
    const A = userInputDim(this.c), K = this.c.lastItems;
    const { U, A1, c1, A2, c2 } = this.params;
    const P = this.c.tieEmbeddings ? this.params.E : this.params.P;
    const uSlot = (2 + K) * D;
    const a = new Float32Array(n * A);
    const zz = new Float32Array(n * D);
    const w = new Float32Array(L);
    for (let r = 0; r < n; r++) {
      const len = histLen[r];
      const ao = r * A;
      if (len > 0) {
        this.recencyWeights(len, w);
        const inv = 1 / len;
        for (let k = 0; k < len; k++) {
          const po = hist[r * L + k] * D;
          for (let j = 0; j < D; j++) {
            const e = P[po + j];
            a[ao + j] += inv * e; // mean pool
            a[ao + D + j] += w[k] * e; // recency pool
          }
        }
        for (let q = 0; q < K && q < len; q++) {
          const lo = hist[r * L + len - 1 - q] * D; // slot q: the (q+1)-th most recent item
          for (let j = 0; j < D; j++) a[ao + (2 + q) * D + j] = P[lo + j];
        }
      }
      if (this.c.userIdEmbedding) {
        const uo = userIxs[r] * D;
        for (let j = 0; j < D; j++) a[ao + uSlot + j] = U[uo + j];
      }
      for (let j = 0; j < D; j++) zz[r * D + j] = a[ao + D + j] + c2[j]; // residual: recency pool
    }
    const h = new Float32Array(n * H);
    this.mm.nt(a, A1, h, n, H, A); // [n, H]
    for (let r = 0; r < n; r++) for (let j = 0; j < H; j++) {
      const p = h[r * H + j] + c1[j];
      h[r * H + j] = p > 0 ? p : 0; // relu(pre) > 0 ⇔ pre > 0, so h alone serves the backward mask
    }
    this.mm.nt(h, A2, zz, n, D, H, true); // z += A2 h
    const u = new Float32Array(n * D);
    const inv = new Float32Array(n);
    l2normalize(zz, u, inv, n, D);
    return { n, a, h, z: zz, u, inv };
  }

  /** du: [n, D] → accumulates into grads of P (or E when tied), U, A1, c1, A2, c2. */
  userBackward(cache: UserCache, userIxs: Int32Array, hist: Int32Array, histLen: Int32Array, du: Float32Array): void {
    const { dim: D, hidden: H, historyLen: L } = this.c;
    const A = userInputDim(this.c), K = this.c.lastItems;
    const tableName: ParamName = this.c.tieEmbeddings ? 'E' : 'P';
    const gP = this.grads[tableName];
    const uSlot = (2 + K) * D;
    const { n, a, h, u, inv } = cache;
    const g = this.grads;
    const dz = new Float32Array(n * D);
    l2normalizeBackward(u, du, inv, dz, n, D);
    for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) g.c2[j] += dz[r * D + j];
    this.mm.tn(dz, h, g.A2, D, H, n); // dA2: [D, H]
    const dh = new Float32Array(n * H);
    this.mm.nn(dz, this.params.A2, dh, n, H, D);
    for (let r = 0; r < n * H; r++) if (h[r] <= 0) dh[r] = 0;
    for (let r = 0; r < n; r++) for (let j = 0; j < H; j++) g.c1[j] += dh[r * H + j];
    this.mm.tn(dh, a, g.A1, H, A, n); // dA1: [H, A]
    const da = new Float32Array(n * A);
    this.mm.nn(dh, this.params.A1, da, n, A, H); // [n, A]
    const w = new Float32Array(L);
    for (let r = 0; r < n; r++) {
      const len = histLen[r];
      const ao = r * A;
      for (let j = 0; j < D; j++) da[ao + D + j] += dz[r * D + j]; // residual into the recency pool
      if (len > 0) {
        this.recencyWeights(len, w);
        const invLen = 1 / len;
        for (let k = 0; k < len; k++) {
          const item = hist[r * L + k];
          this.touch(tableName, item);
          const po = item * D;
          const q = len - 1 - k; // recency slot of this item, used when q < K
          const so = ao + (2 + q) * D;
          if (q < K) for (let j = 0; j < D; j++) gP[po + j] += invLen * da[ao + j] + w[k] * da[ao + D + j] + da[so + j];
          else for (let j = 0; j < D; j++) gP[po + j] += invLen * da[ao + j] + w[k] * da[ao + D + j];
        }
      }
      if (this.c.userIdEmbedding) {
        const ui = userIxs[r];
        this.touch('U', ui);
        for (let j = 0; j < D; j++) g.U[ui * D + j] += da[ao + uSlot + j];
      }
    }
  }

  // ---------------------------------------------------------------- loss

  /**
   * Sampled softmax with logQ correction over the batch's candidates.
   * u: [B, D], v: [C, D]; logits s[b, j] = u_b·v_j / τ − logQ_j; row b's positive is column b; a column
   * holding the same item as row b's positive (an accidental hit) is masked out of row b's softmax.
   * Returns the mean loss and writes du: [B, D], dv: [C, D].
   */
  softmaxLoss(batch: TwoTowerBatch, u: Float32Array, v: Float32Array, du: Float32Array, dv: Float32Array): number {
    const D = this.c.dim;
    const B = batch.size, C = batch.cands.length;
    const invT = 1 / this.c.temperature;
    const s = new Float32Array(B * C);
    this.mm.nt(u, v, s, B, C, D); // [B, C]
    let loss = 0;
    for (let b = 0; b < B; b++) {
      const row = b * C;
      const pos = batch.cands[b];
      let max = -Infinity;
      for (let j = 0; j < C; j++) {
        if (j !== b && batch.cands[j] === pos) {
          s[row + j] = -Infinity;
          continue;
        }
        const x = s[row + j] * invT - batch.logQ[j];
        s[row + j] = x;
        if (x > max) max = x;
      }
      const posLogit = s[row + b];
      let z = 0;
      for (let j = 0; j < C; j++) {
        const e = Math.exp(s[row + j] - max);
        s[row + j] = e;
        z += e;
      }
      loss += Math.log(z) - (posLogit - max);
      // dlogit = (softmax - onehot) / B, then chain through the 1/τ scale
      const scale = invT / B;
      for (let j = 0; j < C; j++) s[row + j] = (s[row + j] / z - (j === b ? 1 : 0)) * scale;
    }
    this.mm.nn(s, v, du, B, D, C); // du: [B, D] = dS [B, C] · v [C, D]
    dv.fill(0);
    this.mm.tn(s, u, dv, C, D, B); // dv: [C, D] = dS^T · u
    return loss / B;
  }

  // ---------------------------------------------------------------- one training step

  /** Forward + loss + backward on one batch; gradients accumulate into this.grads. Returns the loss. */
  lossAndGrad(batch: TwoTowerBatch): number {
    const users = this.userForward(batch.userIxs, batch.hist, batch.histLen, batch.size);
    const items = this.itemForward(batch.cands);
    const du = new Float32Array(batch.size * this.c.dim);
    const dv = new Float32Array(batch.cands.length * this.c.dim);
    const loss = this.softmaxLoss(batch, users.u, items.v, du, dv);
    this.itemBackward(items, dv);
    this.userBackward(users, batch.userIxs, batch.hist, batch.histLen, du);
    return loss;
  }

  /**
   * Adam(W) update (Kingma & Ba 2015; Loshchilov & Hutter 2019 decoupled decay on MLP weights). Tables
   * are updated lazily: only rows with gradient this step, with bias correction from the global step
   * (TF LazyAdam): untouched rows keep stale moments instead of paying O(table) per step.
   */
  adamStep(lr = this.c.lr): void {
    this.step++;
    const { beta1: b1, beta2: b2, weightDecay } = this.c;
    const bc1 = 1 - Math.pow(b1, this.step), bc2 = 1 - Math.pow(b2, this.step);
    const D = this.c.dim;
    for (const k of PARAM_NAMES) {
      const p = this.params[k], g = this.grads[k], m = this.m[k], v = this.v[k];
      if (TABLES.has(k)) {
        const t = this.touched.get(k)!;
        for (const row of t.rows) {
          t.mark[row] = 0;
          for (let j = row * D; j < row * D + D; j++) {
            m[j] = b1 * m[j] + (1 - b1) * g[j];
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            p[j] -= (lr * (m[j] / bc1)) / (Math.sqrt(v[j] / bc2) + 1e-8);
            g[j] = 0;
          }
        }
        t.rows.length = 0;
        continue;
      }
      const decay = k.length === 2 && (k[0] === 'W' || k[0] === 'A') ? 1 - lr * weightDecay : 1;
      for (let j = 0; j < p.length; j++) {
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
        p[j] = p[j] * decay - (lr * (m[j] / bc1)) / (Math.sqrt(v[j] / bc2) + 1e-8);
        g[j] = 0;
      }
    }
  }

  // ---------------------------------------------------------------- inference

  /** All item vectors: [numItems, D], computed in blocks. */
  itemVectors(): Float32Array {
    const D = this.c.dim;
    const out = new Float32Array(this.numItems * D);
    const block = 1024;
    for (let s = 0; s < this.numItems; s += block) {
      const n = Math.min(block, this.numItems - s);
      const ixs = new Int32Array(n);
      for (let r = 0; r < n; r++) ixs[r] = s + r;
      out.set(this.itemForward(ixs).v, s * D);
    }
    return out;
  }

  /** User vectors [n, D] for left-aligned histories hist: [n, L] (as in TwoTowerBatch). */
  userVectors(userIxs: Int32Array, hist: Int32Array, histLen: Int32Array, n: number): Float32Array {
    return this.userForward(userIxs, hist, histLen, n).u;
  }
}
