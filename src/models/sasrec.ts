/**
 * SASRec: self-attentive sequential recommendation.
 *
 * Model: Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018, §III: item embeddings +
 * learned absolute positional embeddings, a stack of causal self-attention blocks with point-wise
 * feed-forward layers, and scores r(i, t) = F_t · M_i against the *shared* input item embeddings (§III-E).
 * Positions are counted back from the newest item (position maxLen-1 is always the most recent input),
 * which is what the reference code's left-padding produces.
 *
 * Deviations we chose, each measured or standard since the paper:
 * - Loss: full softmax cross-entropy over all items at every position instead of BCE with one sampled
 *   negative. gSASRec (Petrov & Macdonald, RecSys 2023, §3-4) shows one-negative BCE makes SASRec
 *   overconfident and under-trained; the full softmax is the limit of many negatives and converges in far
 *   fewer epochs. With our SIMD kernels the [T, numItems] logits matmul is affordable on a CPU.
 * - Pre-LN blocks (x + Attn(LN(x)), x + FFN(LN(x)), final LN) as in GPT-2/nanoGPT, instead of the
 *   reference's post-attention residual on LN(x) — the standard, stabler form.
 * - Sequences are *packed*: a batch is B variable-length sequences laid back to back as T token rows, so
 *   no FLOP is spent on padding and no padding mask is needed; attention is causal within each sequence.
 * - Dropout on the embedding sum, the attention output and both FFN layers (not on attention weights).
 *
 * Everything here is math on Float32Array views in the kernel arena; training loops, batching and
 * checkpoints live in sasrec-train.ts.
 */
import { z } from 'zod';
import { Rng } from '../core/rng.js';
import { ValidationError } from '../core/errors.js';
import { Kernels } from './kernels/index.js';
import type { ParamRef } from './optim.js';

// ---------------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------------

export const SasrecConfig = z.object({
  /** Longest input sequence (most recent items kept). SASRec uses 200 on ML-1M. */
  maxLen: z.number().int().min(2).max(4096).default(200),
  /** Hidden size d (embedding width). */
  dim: z.number().int().min(4).max(1024).default(64),
  /** Transformer blocks. */
  blocks: z.number().int().min(1).max(16).default(2),
  /** Attention heads; dim must be divisible by heads. */
  heads: z.number().int().min(1).max(16).default(1),
  /** Feed-forward width as a multiple of dim (SASRec: 1). */
  ffnMult: z.number().int().min(1).max(8).default(1),
  activation: z.enum(['relu', 'gelu']).default('relu'),
  /** Dropout probability in [0, 0.9]. */
  dropout: z.number().min(0).max(0.9).default(0.2),
  /** Multiply item embeddings by sqrt(dim) on input, as the reference implementation does. */
  scaleEmbeddings: z.boolean().default(true),
  /**
   * 'softmax': cross-entropy over all items. 'sampled-softmax': cross-entropy over the target and
   * `negatives` items drawn uniformly per batch and shared by all its positions (uniform proposal, so the
   * logQ correction is a constant and drops out); cheaper per step when the catalogue is large.
   */
  loss: z.enum(['softmax', 'sampled-softmax']).default('softmax'),
  negatives: z.number().int().min(1).max(65536).default(1024),
});
export type SasrecConfig = z.infer<typeof SasrecConfig>;

// ---------------------------------------------------------------------------------------------------
// Packed batch: B sequences, T = Σ n_b token rows.
// ---------------------------------------------------------------------------------------------------

export class Batch {
  B = 0;
  T = 0;
  /** seg: [maxB + 1], sequence b occupies token rows seg[b] .. seg[b+1]). */
  readonly seg: Int32Array;
  /** items: [maxT] input item per token. */
  readonly items: Int32Array;
  /** pos: [maxT] position index per token (maxLen - n + t). */
  readonly pos: Int32Array;
  /** targets: [maxT] next item per token (-1 = no loss at this token). */
  readonly targets: Int32Array;

  constructor(kernels: Kernels, readonly maxB: number, readonly maxLen: number) {
    this.seg = kernels.arena.i32(maxB + 1);
    this.items = kernels.arena.i32(maxB * maxLen);
    this.pos = kernels.arena.i32(maxB * maxLen);
    this.targets = kernels.arena.i32(maxB * maxLen);
  }

  clear(): void {
    this.B = 0;
    this.T = 0;
    this.seg[0] = 0;
  }

  /**
   * Appends a sequence: inputs src[from..to) (at most maxLen, the newest kept) with targets
   * src[from+1..to+1) when withTargets (the caller guarantees to < src.length then).
   */
  push(src: Int32Array, from: number, to: number, withTargets: boolean): void {
    if (this.B >= this.maxB) throw new RangeError(`batch holds at most ${this.maxB} sequences`);
    const start = Math.max(from, to - this.maxLen);
    const n = to - start;
    if (n <= 0) throw new RangeError('empty sequence in batch');
    const t0 = this.T;
    for (let t = 0; t < n; t++) {
      this.items[t0 + t] = src[start + t];
      this.pos[t0 + t] = this.maxLen - n + t;
      this.targets[t0 + t] = withTargets ? src[start + t + 1] : -1;
    }
    this.T += n;
    this.B++;
    this.seg[this.B] = this.T;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------

interface BlockParams {
  ln1g: Float32Array; // [d]
  ln1b: Float32Array; // [d]
  wqkv: Float32Array; // [d, 3d]
  bqkv: Float32Array; // [3d]
  wo: Float32Array; // [d, d]
  bo: Float32Array; // [d]
  ln2g: Float32Array; // [d]
  ln2b: Float32Array; // [d]
  w1: Float32Array; // [d, f]
  b1: Float32Array; // [f]
  w2: Float32Array; // [f, d]
  b2: Float32Array; // [d]
}

interface Params {
  itemEmb: Float32Array; // [numItems, d], shared input/output embedding
  posEmb: Float32Array; // [maxLen, d]
  blocks: BlockParams[];
  lnfg: Float32Array; // [d]
  lnfb: Float32Array; // [d]
}

/** Lays out one contiguous [total] buffer as named tensors (params and grads share the layout). */
function layoutParams(buf: Float32Array, cfg: SasrecConfig, numItems: number): { p: Params; refs: [string, Float32Array, boolean][] } {
  const d = cfg.dim;
  const f = d * cfg.ffnMult;
  let off = 0;
  const refs: [string, Float32Array, boolean][] = [];
  const take = (name: string, n: number, decay: boolean): Float32Array => {
    const v = buf.subarray(off, off + n);
    off += n;
    refs.push([name, v, decay]);
    return v;
  };
  const itemEmb = take('itemEmb', numItems * d, false);
  const posEmb = take('posEmb', cfg.maxLen * d, false);
  const blocks: BlockParams[] = [];
  for (let l = 0; l < cfg.blocks; l++) {
    blocks.push({
      ln1g: take(`b${l}.ln1g`, d, false), ln1b: take(`b${l}.ln1b`, d, false),
      wqkv: take(`b${l}.wqkv`, d * 3 * d, true), bqkv: take(`b${l}.bqkv`, 3 * d, false),
      wo: take(`b${l}.wo`, d * d, true), bo: take(`b${l}.bo`, d, false),
      ln2g: take(`b${l}.ln2g`, d, false), ln2b: take(`b${l}.ln2b`, d, false),
      w1: take(`b${l}.w1`, d * f, true), b1: take(`b${l}.b1`, f, false),
      w2: take(`b${l}.w2`, f * d, true), b2: take(`b${l}.b2`, d, false),
    });
  }
  const lnfg = take('lnfg', d, false);
  const lnfb = take('lnfb', d, false);
  if (off !== buf.length) throw new Error(`parameter layout mismatch: ${off} != ${buf.length}`);
  return { p: { itemEmb, posEmb, blocks, lnfg, lnfb }, refs };
}

export function countParams(cfg: SasrecConfig, numItems: number): number {
  const d = cfg.dim;
  const f = d * cfg.ffnMult;
  const block = 4 * d + 3 * d * d + 3 * d + d * d + d + d * f + f + f * d + d;
  return numItems * d + cfg.maxLen * d + cfg.blocks * block + 2 * d;
}

// ---------------------------------------------------------------------------------------------------
// Activations saved by forward for backward. Sized for maxT tokens.
// ---------------------------------------------------------------------------------------------------

interface BlockActs {
  xIn: Float32Array; // [T, d] residual stream entering the block
  ln1: Float32Array; // [T, d]
  ln1Mean: Float32Array; // [T]
  ln1Rstd: Float32Array; // [T]
  qkv: Float32Array; // [T, 3d]
  probs: Float32Array; // [Σ_b H·n_b²]
  att: Float32Array; // [T, d] attention output before the projection
  m1: Float32Array; // [T, d] dropout mask after the projection
  x1: Float32Array; // [T, d] after the attention residual
  ln2: Float32Array; // [T, d]
  ln2Mean: Float32Array; // [T]
  ln2Rstd: Float32Array; // [T]
  hPre: Float32Array; // [T, f]
  hAct: Float32Array; // [T, f] after activation and dropout
  m2: Float32Array; // [T, f]
  m3: Float32Array; // [T, d]
}

export class SasrecModel {
  readonly cfg: SasrecConfig;
  readonly numItems: number;
  readonly kernels: Kernels;
  /** All parameters, one contiguous buffer (checkpoints copy it whole). */
  readonly paramBuf: Float32Array;
  readonly gradBuf: Float32Array;
  readonly p: Params;
  readonly g: Params;
  readonly paramRefs: ParamRef[];
  /** Largest number of sequences and tokens a batch may hold. */
  readonly maxB: number;
  readonly maxT: number;

  private readonly acts: BlockActs[];
  private readonly m0: Float32Array; // [T, d] embedding dropout mask
  private readonly xFinal: Float32Array; // [T, d] residual stream after the last block
  private readonly lnfMean: Float32Array; // [T]
  private readonly lnfRstd: Float32Array; // [T]
  /** hidden: [maxT, d] final-layer-norm output, the sequence representation at every position. */
  readonly hidden: Float32Array;
  private readonly dx: Float32Array; // [T, d] gradient of the residual stream
  private readonly tmpD: Float32Array; // [T, d]
  private readonly tmpD2: Float32Array; // [T, d]
  private readonly dqkv: Float32Array; // [T, 3d]
  private readonly dH: Float32Array; // [T, f]
  private readonly dHidden: Float32Array; // [T, d]
  private readonly attScratch: Float32Array;
  private readonly itemEmbT: Float32Array; // [d, numItems] transposed copy for the logits matmul
  private readonly logitChunk: Float32Array; // [chunkRows, numItems]
  private readonly chunkRows: number;
  // sampled softmax: S = min(negatives, numItems - 1)
  private readonly numNeg: number;
  private readonly negIdx: Int32Array; // [S]
  private readonly negEmb: Float32Array; // [S, d]
  private readonly negEmbT: Float32Array; // [d, S]
  private readonly dNegEmb: Float32Array; // [S, d]
  private readonly negSlot: Int32Array; // [numItems] → a slot holding that item in negIdx, or -1
  private readonly zeroTargets: Int32Array; // [chunkRows] target column 0 (or -1) per row

  /** Built for scoring only: no gradients, no training buffers (serving, loaded artifacts). */
  readonly inference: boolean;
  /** Single-sequence batch for scoreSequence (allocated on first use). */
  private single: Batch | undefined;

  /**
   * opts.inference: scoring only — gradBuf is empty, `g` aliases nothing trainable and lossAndBackward
   * refuses backward; the logits buffer is sized for maxBatch rows instead of the training chunk.
   */
  constructor(cfg: SasrecConfig, numItems: number, opts: { kernels: Kernels; maxBatch: number; seed: number; inference?: boolean }) {
    if (cfg.dim % cfg.heads !== 0) {
      throw new ValidationError(`dim ${cfg.dim} is not divisible by heads ${cfg.heads}`, [{ path: 'heads', message: 'must divide dim' }]);
    }
    if (!(numItems >= 2)) throw new ValidationError('SASRec needs at least 2 items', [{ path: 'numItems', message: 'too few items' }]);
    this.cfg = cfg;
    this.numItems = numItems;
    this.kernels = opts.kernels;
    this.inference = opts.inference === true;
    this.maxB = opts.maxBatch;
    this.maxT = opts.maxBatch * cfg.maxLen;
    const a = this.kernels.arena;
    const nParams = countParams(cfg, numItems);
    this.paramBuf = a.f32(nParams);
    const pl = layoutParams(this.paramBuf, cfg, numItems);
    this.p = pl.p;
    if (this.inference) {
      // Scoring only: no gradient buffer (it would double the memory of a served model).
      this.gradBuf = a.f32(0);
      this.g = pl.p;
      this.paramRefs = [];
    } else {
      this.gradBuf = a.f32(nParams);
      const gl = layoutParams(this.gradBuf, cfg, numItems);
      this.g = gl.p;
      this.paramRefs = pl.refs.map(([name, param, decay], i) => ({ name, param, grad: gl.refs[i][1], decay }));
    }
    this.initParams(new Rng(opts.seed));

    const d = cfg.dim;
    const f = d * cfg.ffnMult;
    const T = this.maxT;
    const L = cfg.maxLen;
    this.acts = [];
    for (let l = 0; l < cfg.blocks; l++) {
      this.acts.push({
        xIn: a.f32(T * d), ln1: a.f32(T * d), ln1Mean: a.f32(T), ln1Rstd: a.f32(T), qkv: a.f32(T * 3 * d),
        probs: a.f32(opts.maxBatch * cfg.heads * L * L), att: a.f32(T * d), m1: a.f32(T * d), x1: a.f32(T * d),
        ln2: a.f32(T * d), ln2Mean: a.f32(T), ln2Rstd: a.f32(T), hPre: a.f32(T * f), hAct: a.f32(T * f),
        m2: a.f32(T * f), m3: a.f32(T * d),
      });
    }
    this.m0 = a.f32(T * d);
    this.xFinal = a.f32(T * d);
    this.lnfMean = a.f32(T);
    this.lnfRstd = a.f32(T);
    this.hidden = a.f32(T * d);
    this.dx = a.f32(T * d);
    this.tmpD = a.f32(T * d);
    this.tmpD2 = a.f32(T * d);
    this.dqkv = a.f32(T * 3 * d);
    this.dH = a.f32(T * f);
    this.dHidden = a.f32(T * d);
    this.attScratch = a.f32(Kernels.attentionScratch(L, d / cfg.heads, this.kernels.threads));
    this.itemEmbT = a.f32(d * numItems);
    this.chunkRows = this.inference ? opts.maxBatch : Math.max(64, Math.min(1024, Math.floor((4 << 20) / (4 * numItems))));
    this.logitChunk = a.f32(this.chunkRows * numItems);
    this.numNeg = Math.min(cfg.negatives, numItems - 1);
    const S = cfg.loss === 'sampled-softmax' ? this.numNeg : 0;
    this.negIdx = a.i32(S);
    this.negEmb = a.f32(S * d);
    this.negEmbT = a.f32(S * d);
    this.dNegEmb = a.f32(S * d);
    this.negSlot = new Int32Array(cfg.loss === 'sampled-softmax' ? numItems : 0).fill(-1);
    this.zeroTargets = a.i32(this.chunkRows);
  }

  /** Xavier-normal matrices and embeddings (as the reference code), LN γ=1 β=0, biases 0. */
  private initParams(rng: Rng): void {
    const d = this.cfg.dim;
    const f = d * this.cfg.ffnMult;
    const xavier = (w: Float32Array, fanIn: number, fanOut: number): void => {
      const std = Math.sqrt(2 / (fanIn + fanOut));
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    };
    xavier(this.p.itemEmb, this.numItems, d);
    xavier(this.p.posEmb, this.cfg.maxLen, d);
    for (const b of this.p.blocks) {
      b.ln1g.fill(1);
      b.ln2g.fill(1);
      xavier(b.wqkv, d, d); // each of Q, K, V is a [d, d] map
      xavier(b.wo, d, d);
      xavier(b.w1, d, f);
      xavier(b.w2, f, d);
    }
    this.p.lnfg.fill(1);
  }

  // -------------------------------------------------------------------------------------------------
  // Forward: batch → hidden [T, d]
  // -------------------------------------------------------------------------------------------------

  /**
   * Runs the transformer over the packed batch; train=true applies dropout with masks from `seed`.
   * lastRowOnly (eval, scoring the item after the batch's last sequence): the last block computes the
   * keys and values of every position but everything else only for the batch's last token row, so only
   * hidden[T-1] is valid afterwards.
   */
  forward(batch: Batch, train: boolean, seed: number, lastRowOnly = false): void {
    const K = this.kernels;
    const { dim: d, heads: H, dropout } = this.cfg;
    const f = d * this.cfg.ffnMult;
    const T = batch.T;
    const drop = train && dropout > 0;
    let seedStep = seed >>> 0;
    const nextSeed = (): number => (seedStep = (Math.imul(seedStep, 1664525) + 1013904223) >>> 0);
    const dh = d / H;
    const embScale = this.cfg.scaleEmbeddings ? Math.sqrt(d) : 1;

    // x: [T, d] = E[items]·√d + P[pos]
    const x0 = this.acts[0].xIn;
    K.embedFwd(this.p.itemEmb, this.p.posEmb, batch.items, batch.pos, x0, T, d, embScale);
    if (drop) K.dropout(x0, this.m0, T * d, dropout, nextSeed());

    for (let l = 0; l < this.cfg.blocks; l++) {
      if (lastRowOnly && !train && l === this.cfg.blocks - 1) {
        this.lastBlockLastRow(batch);
        return;
      }
      const a = this.acts[l];
      const w = this.p.blocks[l];
      const xOut = l + 1 < this.cfg.blocks ? this.acts[l + 1].xIn : this.xFinal;
      // ln1: [T, d]
      K.layerNormFwd(a.xIn, a.ln1, a.ln1Mean, a.ln1Rstd, w.ln1g, w.ln1b, T, d);
      // qkv: [T, 3d] = ln1 · Wqkv + b
      K.mm(a.ln1, w.wqkv, a.qkv, T, 3 * d, d);
      K.addBias(a.qkv, w.bqkv, T, 3 * d);
      // att: [T, d] causal attention within each sequence
      K.attentionFwd(a.qkv, a.qkv.subarray(d), a.qkv.subarray(2 * d), 3 * d, a.att, d, a.probs, batch.seg,
        batch.B, H, dh, 1 / Math.sqrt(dh), this.attScratch);
      // x1 = x + drop(att · Wo + bo)
      K.mm(a.att, w.wo, a.x1, T, d, d);
      K.addBias(a.x1, w.bo, T, d);
      if (drop) K.dropout(a.x1, a.m1, T * d, dropout, nextSeed());
      K.addInto(a.x1, a.xIn, T * d);
      // ln2: [T, d]
      K.layerNormFwd(a.x1, a.ln2, a.ln2Mean, a.ln2Rstd, w.ln2g, w.ln2b, T, d);
      // hPre: [T, f] = ln2 · W1 + b1; hAct = drop(act(hPre))
      K.mm(a.ln2, w.w1, a.hPre, T, f, d);
      K.addBias(a.hPre, w.b1, T, f);
      if (this.cfg.activation === 'relu') K.reluFwd(a.hPre, a.hAct, T * f);
      else K.geluFwd(a.hPre, a.hAct, T * f);
      if (drop) K.dropout(a.hAct, a.m2, T * f, dropout, nextSeed());
      // xOut = x1 + drop(hAct · W2 + b2)
      K.mm(a.hAct, w.w2, xOut, T, d, f);
      K.addBias(xOut, w.b2, T, d);
      if (drop) K.dropout(xOut, a.m3, T * d, dropout, nextSeed());
      K.addInto(xOut, a.x1, T * d);
    }
    // hidden: [T, d] = LN_f(x)
    K.layerNormFwd(this.xFinal, this.hidden, this.lnfMean, this.lnfRstd, this.p.lnfg, this.p.lnfb, T, d);
  }

  /**
   * The last block and the final layer norm for token row r = T-1 only (eval, no dropout): K and V for
   * every row (the last query attends to all of its sequence), then the last query's attention in plain
   * loops (O(n·d)), and the projection, FFN and norms on one [1, d] row. Same math as the full block.
   */
  private lastBlockLastRow(batch: Batch): void {
    const K = this.kernels;
    const { dim: d, heads: H } = this.cfg;
    const f = d * this.cfg.ffnMult;
    const T = batch.T;
    const r = T - 1;
    const s0 = batch.seg[batch.B - 1]; // first row of the last sequence
    const dh = d / H;
    const scale = 1 / Math.sqrt(dh);
    const a = this.acts[this.cfg.blocks - 1];
    const w = this.p.blocks[this.cfg.blocks - 1];
    const row = (x: Float32Array, width: number): Float32Array => x.subarray(r * width, (r + 1) * width);
    // ln1: [T, d]; qkv: [T, 3d]
    K.layerNormFwd(a.xIn, a.ln1, a.ln1Mean, a.ln1Rstd, w.ln1g, w.ln1b, T, d);
    K.mm(a.ln1, w.wqkv, a.qkv, T, 3 * d, d);
    K.addBias(a.qkv, w.bqkv, T, 3 * d);
    // att[r]: [d], per head softmax(q_r·k_j·scale) over j in s0..r, then Σ p_j v_j; probs as scratch [n]
    const qkv = a.qkv;
    const att = row(a.att, d);
    const p = a.probs;
    for (let h = 0; h < H; h++) {
      const qo = r * 3 * d + h * dh;
      let max = -Infinity;
      for (let j = s0; j <= r; j++) {
        const ko = j * 3 * d + d + h * dh;
        let dot = 0;
        for (let c = 0; c < dh; c++) dot += qkv[qo + c] * qkv[ko + c];
        const sj = dot * scale;
        p[j - s0] = sj;
        if (sj > max) max = sj;
      }
      let sum = 0;
      for (let j = s0; j <= r; j++) sum += p[j - s0] = Math.exp(p[j - s0] - max);
      const inv = 1 / sum;
      const ao = h * dh;
      att.fill(0, ao, ao + dh);
      for (let j = s0; j <= r; j++) {
        const pj = p[j - s0] * inv;
        const vo = j * 3 * d + 2 * d + h * dh;
        for (let c = 0; c < dh; c++) att[ao + c] += pj * qkv[vo + c];
      }
    }
    // x1[r] = x[r] + att[r]·Wo + bo
    const x1 = row(a.x1, d);
    K.mm(att, w.wo, x1, 1, d, d);
    K.addBias(x1, w.bo, 1, d);
    K.addInto(x1, row(a.xIn, d), d);
    // hAct[r] = act(LN2(x1[r])·W1 + b1); xFinal[r] = x1[r] + hAct[r]·W2 + b2
    const ln2 = row(a.ln2, d);
    K.layerNormFwd(x1, ln2, a.ln2Mean.subarray(r, r + 1), a.ln2Rstd.subarray(r, r + 1), w.ln2g, w.ln2b, 1, d);
    const hPre = row(a.hPre, f);
    const hAct = row(a.hAct, f);
    K.mm(ln2, w.w1, hPre, 1, f, d);
    K.addBias(hPre, w.b1, 1, f);
    if (this.cfg.activation === 'relu') K.reluFwd(hPre, hAct, f);
    else K.geluFwd(hPre, hAct, f);
    const xo = row(this.xFinal, d);
    K.mm(hAct, w.w2, xo, 1, d, f);
    K.addBias(xo, w.b2, 1, d);
    K.addInto(xo, x1, d);
    // hidden[r] = LN_f(xFinal[r])
    K.layerNormFwd(xo, row(this.hidden, d), this.lnfMean.subarray(r, r + 1), this.lnfRstd.subarray(r, r + 1), this.p.lnfg, this.p.lnfb, 1, d);
  }

  // -------------------------------------------------------------------------------------------------
  // Loss: full softmax cross-entropy of hidden · Eᵀ against the next item, mean over target tokens.
  // -------------------------------------------------------------------------------------------------

  /**
   * Computes the loss for the last forward() and, when `backward`, accumulates ∂loss/∂θ into gradBuf
   * (call zeroGrad first). Returns the mean cross-entropy in nats.
   */
  lossAndBackward(batch: Batch, backward: boolean, dropoutSeed: number): number {
    const K = this.kernels;
    const d = this.cfg.dim;
    const N = this.numItems;
    const T = batch.T;
    let nTargets = 0;
    for (let t = 0; t < T; t++) if (batch.targets[t] >= 0) nTargets++;
    if (nTargets === 0) return 0;
    if (backward && this.inference) throw new Error('this SASRec model was built for inference: no gradients');
    if (this.cfg.loss === 'sampled-softmax') return this.sampledLossAndBackward(batch, backward, dropoutSeed, nTargets);
    // Eᵀ: [d, N] so the logits matmul streams contiguous rows.
    K.k.transpose(this.p.itemEmb.byteOffset, this.itemEmbT.byteOffset, N, d, d);
    let total = 0;
    for (let r0 = 0; r0 < T; r0 += this.chunkRows) {
      const R = Math.min(this.chunkRows, T - r0);
      const h = this.hidden.subarray(r0 * d, (r0 + R) * d); // [R, d]
      const logits = this.logitChunk.subarray(0, R * N); // [R, N]
      K.mm(h, this.itemEmbT, logits, R, N, d);
      // logits ← ∂loss/∂logits = (softmax − onehot) / nTargets
      total += K.softmaxXent(logits, batch.targets.subarray(r0, r0 + R), R, N, 1 / nTargets);
      if (!backward) continue;
      // dHidden[R, d] = G · E;  dE[N, d] += Gᵀ · h
      K.mm(logits, this.p.itemEmb, this.dHidden.subarray(r0 * d, (r0 + R) * d), R, d, N);
      K.mmAt(logits, h, this.g.itemEmb, N, d, R, true);
    }
    if (backward) this.backward(batch, dropoutSeed);
    return total / nTargets;
  }

  /**
   * Sampled softmax: logits [R, 1+S] per row chunk, column 0 the target h·E[y], columns 1..S the shared
   * negatives h·E[neg]ᵀ (a negative equal to the row's target is masked out).
   */
  private sampledLossAndBackward(batch: Batch, backward: boolean, seed: number, nTargets: number): number {
    const K = this.kernels;
    const d = this.cfg.dim;
    const S = this.numNeg;
    const W = S + 1;
    const T = batch.T;
    const E = this.p.itemEmb;
    const rng = new Rng(seed ^ 0x2c1b3c6d);
    for (let j = 0; j < S; j++) {
      const item = rng.int(this.numItems);
      this.negIdx[j] = item;
      this.negSlot[item] = j;
      this.negEmb.set(E.subarray(item * d, (item + 1) * d), j * d);
    }
    K.k.transpose(this.negEmb.byteOffset, this.negEmbT.byteOffset, S, d, d);
    if (backward) this.dNegEmb.fill(0);
    let total = 0;
    for (let r0 = 0; r0 < T; r0 += this.chunkRows) {
      const R = Math.min(this.chunkRows, T - r0);
      const h = this.hidden.subarray(r0 * d, (r0 + R) * d); // [R, d]
      const logits = this.logitChunk.subarray(0, R * W); // [R, 1+S]
      K.gemm(h, this.negEmbT, logits.subarray(1), R, S, d, d, 1, S, W, false);
      for (let r = 0; r < R; r++) {
        const y = batch.targets[r0 + r];
        this.zeroTargets[r] = y < 0 ? -1 : 0;
        if (y < 0) continue;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += h[r * d + c] * E[y * d + c];
        logits[r * W] = dot;
        const slot = this.negSlot[y];
        if (slot >= 0) {
          // every occurrence of y among the negatives is masked, not just the recorded slot
          for (let j = 0; j < S; j++) if (this.negIdx[j] === y) logits[r * W + 1 + j] = -1e30;
        }
      }
      total += K.softmaxXent(logits, this.zeroTargets.subarray(0, R), R, W, 1 / nTargets);
      if (!backward) continue;
      const dh = this.dHidden.subarray(r0 * d, (r0 + R) * d);
      // dh[R, d] = G[:, 1:] · Eneg;  dEneg[S, d] += G[:, 1:]ᵀ · h
      K.gemm(logits.subarray(1), this.negEmb, dh, R, d, S, W, 1, d, d, false);
      K.gemm(logits.subarray(1), h, this.dNegEmb, S, d, R, 1, W, d, d, true);
      // target column: dh += G[:,0]·E[y];  dE[y] += G[:,0]·h
      const gE = this.g.itemEmb;
      for (let r = 0; r < R; r++) {
        const y = batch.targets[r0 + r];
        if (y < 0) continue;
        const g0 = logits[r * W];
        for (let c = 0; c < d; c++) {
          dh[r * d + c] += g0 * E[y * d + c];
          gE[y * d + c] += g0 * h[r * d + c];
        }
      }
    }
    for (let j = 0; j < S; j++) this.negSlot[this.negIdx[j]] = -1;
    if (backward) {
      const gE = this.g.itemEmb;
      for (let j = 0; j < S; j++) {
        const item = this.negIdx[j];
        for (let c = 0; c < d; c++) gE[item * d + c] += this.dNegEmb[j * d + c];
      }
      this.backward(batch, seed);
    }
    return total / nTargets;
  }

  // -------------------------------------------------------------------------------------------------
  // Backward: dHidden → parameter gradients (reverse of forward, same dropout masks).
  // -------------------------------------------------------------------------------------------------

  private backward(batch: Batch, seed: number): void {
    void seed; // masks were stored by forward
    const K = this.kernels;
    const { dim: d, heads: H, dropout } = this.cfg;
    const f = d * this.cfg.ffnMult;
    const T = batch.T;
    const drop = dropout > 0;
    const dh = d / H;
    const dx = this.dx.subarray(0, T * d);
    dx.fill(0);
    K.layerNormBwd(this.dHidden, this.xFinal, this.lnfMean, this.lnfRstd, this.p.lnfg, dx, this.g.lnfg, this.g.lnfb, T, d);

    for (let l = this.cfg.blocks - 1; l >= 0; l--) {
      const a = this.acts[l];
      const w = this.p.blocks[l];
      const gw = this.g.blocks[l];
      // xOut = x1 + drop(hAct·W2 + b2): dz = dx ⊙ m3
      const dz = this.tmpD.subarray(0, T * d);
      dz.set(dx);
      if (drop) K.mulInto(dz, a.m3, T * d);
      K.mmAt(a.hAct, dz, gw.w2, f, d, T, true); // dW2[f, d] += hActᵀ·dz
      K.colSum(dz, gw.b2, T, d);
      const dHact = this.dH; // [T, f] = dz · W2ᵀ
      K.mmBt(dz, w.w2, dHact, T, f, d);
      if (drop) K.mulInto(dHact, a.m2, T * f);
      if (this.cfg.activation === 'relu') K.reluBwd(a.hPre, dHact, dHact, T * f);
      else K.geluBwd(a.hPre, dHact, dHact, T * f);
      K.mmAt(a.ln2, dHact, gw.w1, d, f, T, true); // dW1[d, f] += ln2ᵀ·dHpre
      K.colSum(dHact, gw.b1, T, f);
      const dLn2 = this.tmpD2; // [T, d] = dHpre · W1ᵀ
      K.mmBt(dHact, w.w1, dLn2, T, d, f);
      K.layerNormBwd(dLn2, a.x1, a.ln2Mean, a.ln2Rstd, w.ln2g, dx, gw.ln2g, gw.ln2b, T, d);

      // x1 = xIn + drop(att·Wo + bo): dy = dx ⊙ m1
      const dy = this.tmpD.subarray(0, T * d);
      dy.set(dx);
      if (drop) K.mulInto(dy, a.m1, T * d);
      K.mmAt(a.att, dy, gw.wo, d, d, T, true);
      K.colSum(dy, gw.bo, T, d);
      const dAtt = this.tmpD2; // [T, d] = dy · Woᵀ
      K.mmBt(dy, w.wo, dAtt, T, d, d);
      const dqkv = this.dqkv; // [T, 3d]
      K.attentionBwd(a.qkv, a.qkv.subarray(d), a.qkv.subarray(2 * d), 3 * d, dAtt, d, a.probs, batch.seg,
        dqkv, dqkv.subarray(d), dqkv.subarray(2 * d), batch.B, H, dh, 1 / Math.sqrt(dh), this.attScratch);
      K.mmAt(a.ln1, dqkv, gw.wqkv, d, 3 * d, T, true);
      K.colSum(dqkv, gw.bqkv, T, 3 * d);
      const dLn1 = this.tmpD; // [T, d] = dqkv · Wqkvᵀ
      K.mmBt(dqkv, w.wqkv, dLn1, T, d, 3 * d);
      K.layerNormBwd(dLn1, a.xIn, a.ln1Mean, a.ln1Rstd, w.ln1g, dx, gw.ln1g, gw.ln1b, T, d);
    }
    if (drop) K.mulInto(dx, this.m0, T * d);
    K.embedBwd(this.g.itemEmb, this.g.posEmb, batch.items, batch.pos, dx, T, d, this.cfg.scaleEmbeddings ? Math.sqrt(d) : 1);
  }

  // -------------------------------------------------------------------------------------------------
  // Scoring: the last position's hidden state · every item embedding.
  // -------------------------------------------------------------------------------------------------

  /** out: [batch.B, numItems] scores for the item after each sequence's last input (no dropout). */
  scoreLast(batch: Batch, out: Float32Array): void {
    const K = this.kernels;
    const d = this.cfg.dim;
    const N = this.numItems;
    if (out.length < batch.B * N) throw new RangeError(`out holds ${out.length} < ${batch.B}×${N} scores`);
    this.forward(batch, false, 0);
    const last = this.tmpD.subarray(0, batch.B * d); // [B, d]
    for (let b = 0; b < batch.B; b++) {
      const t = batch.seg[b + 1] - 1;
      last.set(this.hidden.subarray(t * d, (t + 1) * d), b * d);
    }
    K.k.transpose(this.p.itemEmb.byteOffset, this.itemEmbT.byteOffset, N, d, d);
    const rows = Math.min(batch.B, this.chunkRows);
    for (let b0 = 0; b0 < batch.B; b0 += rows) {
      const R = Math.min(rows, batch.B - b0);
      const dst = this.logitChunk.subarray(0, R * N);
      K.mm(last.subarray(b0 * d, (b0 + R) * d), this.itemEmbT, dst, R, N, d);
      out.set(dst, b0 * N);
    }
  }

  /**
   * Refreshes the transposed item embeddings scoreSequence reads. Call once after the parameters change
   * (after loading or training), not per request: it copies the whole [numItems, d] table.
   */
  syncScoring(): void {
    this.kernels.k.transpose(this.p.itemEmb.byteOffset, this.itemEmbT.byteOffset, this.numItems, this.cfg.dim, this.cfg.dim);
  }

  /**
   * Eval-mode scores of every item as the next one after a single sequence (no dropout), for serving.
   * items[from..to): item ixs, oldest first (the newest maxLen are used). Returns a view of an internal
   * [numItems] buffer, valid until the next call. Cost: the forward pass over n ≤ maxLen tokens
   * (O(blocks·(n·d² + n²·d))) plus one [1, d]×[d, numItems] matvec. Needs syncScoring() after the
   * parameters last changed.
   */
  scoreSequence(items: Int32Array, from: number, to: number): Float32Array {
    if (!(to > from)) throw new RangeError('scoreSequence needs at least one item');
    const N = this.numItems;
    const d = this.cfg.dim;
    for (let t = Math.max(from, to - this.cfg.maxLen); t < to; t++) {
      if (!(items[t] >= 0 && items[t] < N)) throw new RangeError(`item ix ${items[t]} at position ${t} is outside 0..${N - 1}`);
    }
    const batch = (this.single ??= new Batch(this.kernels, 1, this.cfg.maxLen));
    batch.clear();
    batch.push(items, from, to, false);
    this.forward(batch, false, 0, true);
    const t = batch.T - 1;
    const scores = this.logitChunk.subarray(0, N); // [numItems]
    // scores: [1, N] = hidden[t]: [1, d] · Eᵀ: [d, N]
    this.kernels.mm(this.hidden.subarray(t * d, (t + 1) * d), this.itemEmbT, scores, 1, N, d);
    return scores;
  }

  zeroGrad(): void {
    this.gradBuf.fill(0);
  }
}
