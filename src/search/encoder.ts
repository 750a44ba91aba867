/**
 * The content tower of search: text of an item (title, text, tags, creator) or of a query → a unit
 * vector, learned in-project (no downloadable weights exist here).
 *
 * Features: hashed word unigrams and boundary-marked character trigrams ("^ro", "roc", "ock", "ck^"),
 * the hashing trick of Weinberger et al. 2009 and the letter-trigram word hashing of DSSM (Huang et al.
 * 2013, §3.2) that makes the encoder robust to typos and morphology. Each feature is weighted by its
 * field and by a catalog idf, and the sparse vector is L2-normalised.
 *
 * Model: one linear layer, e(x) = normalize(xᵀW), W: [buckets, dims]. Initialised as a Gaussian random
 * projection (Johnson–Lindenstrauss: before training, cosine ≈ weighted feature overlap), then trained
 * contrastively with in-batch negatives (InfoNCE, Oord et al. 2018; the in-batch softmax of Yi et al.
 * 2019 "Sampling-bias-corrected neural modeling") on pairs (pseudo-query from item a, item b):
 *   - b = a (inverse cloze, Lee et al. 2019): a tag, the title, the creator or a few words of a's text
 *     must retrieve a;
 *   - b co-consumed with a (items next to each other in a user's history): the query side learns that
 *     "post-punk" also means the artists post-punk listeners play, which plain word overlap cannot know.
 * Query and item share the one text tower (the brief: queries are embedded by the same text side).
 * Optimiser: row-wise Adagrad on the touched rows of W only (DLRM-style sparse update), so a step costs
 * O(batch · features · dims), independent of the number of buckets.
 */
import { z } from 'zod';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import { Rng, hash32 } from '../core/rng.js';
import { tokenize } from './text.js';

export const EncoderConfigSchema = z.strictObject({
  dims: z.number().int().min(2).max(1024).default(64),
  /** log2 of the number of hash buckets (W has 2^bucketBits rows). */
  bucketBits: z.number().int().min(8).max(22).default(16),
  /**
   * log2 of the item-id buckets (0 = none). An item's id is one more feature on the item side only,
   * its row initialised to zero: trained items gain a collaborative offset learned from co-consumption
   * (as matching collaborative item embeddings would), cold items keep their pure content embedding.
   */
  idBucketBits: z.number().int().min(0).max(22).default(17),
  /** Value of the id feature next to the unit-norm text features. */
  idWeight: z.number().min(0).max(10).default(1),
  /** Weight of each character trigram relative to a whole word. */
  trigramWeight: z.number().min(0).max(4).default(0.35),
  fieldWeights: z
    .strictObject({ title: z.number().min(0), text: z.number().min(0), tags: z.number().min(0), creator: z.number().min(0) })
    .default({ title: 1, text: 0.5, tags: 1, creator: 1 }),
  seed: z.number().int().min(0).max(0xffffffff).default(17),
});
export type EncoderConfigInput = z.input<typeof EncoderConfigSchema>;
export type EncoderConfig = z.output<typeof EncoderConfigSchema>;

export const TrainConfigSchema = z.strictObject({
  steps: z.number().int().min(0).max(1_000_000).default(1500),
  batchSize: z.number().int().min(2).max(4096).default(256),
  /** Softmax temperature of the in-batch loss. */
  temperature: z.number().min(0.001).max(10).default(0.07),
  learningRate: z.number().min(0).max(10).default(0.2),
  /** Fraction of examples whose positive is a co-consumed item (the rest are self pairs). */
  coFraction: z.number().min(0).max(1).default(0.5),
  /**
   * logQ correction (Yi et al. 2019 §3.2): subtract log(sampling probability of the in-batch item) from
   * each logit, so popular items are not learned to be pushed away just because they are frequent
   * negatives.
   */
  logQ: z.boolean().default(true),
  seed: z.number().int().min(0).max(0xffffffff).default(23),
});
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

function parse<S extends z.ZodType>(schema: S, v: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(v);
  if (!r.success) {
    throw new ValidationError(
      `invalid ${prefix} config`,
      issuesFromSchema(r.error.issues, prefix),
    );
  }
  return r.data;
}

/** The text fields of an item as the encoder sees them. */
export interface ContentFields {
  title?: string;
  text?: string;
  tags?: readonly string[];
  creator?: string;
  /** The item's id (item side only; queries have none). */
  key?: string;
}

/** A sparse feature vector: parallel (bucket, value) arrays. */
export interface SparseVec {
  idx: Int32Array;
  val: Float32Array;
}

const WORD_SALT = 0x9747b28c;
const GRAM_SALT = 0x5bd1e995;

export class ContentEncoder {
  readonly config: EncoderConfig;
  private readonly mask: number;
  /** W: [buckets, dims]. */
  readonly weights: Float32Array;
  /** idf: [buckets], 1 until fitted on a catalog. */
  readonly idf: Float32Array;
  private readonly acc = new Map<number, number>();
  private readonly idBuckets: number;

  /** Rows of W (text buckets + id buckets). */
  get rows(): number {
    return this.weights.length / this.config.dims;
  }

  constructor(config: EncoderConfigInput = {}) {
    this.config = parse(EncoderConfigSchema, config, 'encoder');
    const buckets = 1 << this.config.bucketBits;
    this.mask = buckets - 1;
    this.idBuckets = this.config.idBucketBits > 0 ? 1 << this.config.idBucketBits : 0;
    const d = this.config.dims;
    // Rows [0, buckets) text features (random projection), [buckets, buckets + idBuckets) ids (zero).
    this.weights = new Float32Array((buckets + this.idBuckets) * d);
    const rng = new Rng(this.config.seed);
    const scale = 1 / Math.sqrt(d);
    for (let i = 0; i < buckets * d; i++) this.weights[i] = rng.normal() * scale;
    this.idf = new Float32Array(buckets).fill(1);
  }

  get dims(): number {
    return this.config.dims;
  }

  private addToken(tok: string, w: number): void {
    const acc = this.acc;
    const wb = hash32(tok, WORD_SALT) & this.mask;
    acc.set(wb, (acc.get(wb) ?? 0) + w);
    const gw = w * this.config.trigramWeight;
    if (gw === 0 || tok.length < 2) return;
    const padded = `^${tok}^`;
    for (let i = 0; i + 3 <= padded.length; i++) {
      const gb = hash32(padded.slice(i, i + 3), GRAM_SALT) & this.mask;
      acc.set(gb, (acc.get(gb) ?? 0) + gw);
    }
  }

  /** Raw (un-idf'd) feature counts of some fields, before normalisation. */
  private collect(f: ContentFields): void {
    this.acc.clear();
    const fw = this.config.fieldWeights;
    for (const t of tokenize(f.title ?? '')) this.addToken(t, fw.title);
    for (const t of tokenize(f.text ?? '')) this.addToken(t, fw.text);
    for (const tag of f.tags ?? []) for (const t of tokenize(tag)) this.addToken(t, fw.tags);
    for (const t of tokenize(f.creator ?? '')) this.addToken(t, fw.creator);
  }

  /** Sparse, idf-weighted, L2-normalised features of an item or query (a query is its `title`). */
  features(f: ContentFields): SparseVec {
    this.collect(f);
    const n = this.acc.size;
    const withId = f.key !== undefined && this.idBuckets > 0 && this.config.idWeight > 0;
    const idx = new Int32Array(n + (withId ? 1 : 0));
    const val = new Float32Array(n + (withId ? 1 : 0));
    let k = 0;
    let norm = 0;
    for (const [b, v] of this.acc) {
      idx[k] = b;
      // Sublinear term frequency, as in classic tf-idf (repeated words saturate).
      const x = (1 + Math.log(Math.max(1, v))) * Math.min(v, 1) * this.idf[b];
      val[k++] = x;
      norm += x * x;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < n; i++) val[i] *= inv;
    if (withId) {
      idx[n] = this.idf.length + (hash32(f.key!, 0x2545f491) & (this.idBuckets - 1));
      val[n] = this.config.idWeight;
    }
    return { idx, val };
  }

  /** Sets idf from a catalog: idf(b) = ln((N + 1) / (df(b) + 1)) + 1. */
  fitIdf(docs: readonly ContentFields[]): void {
    const df = new Float64Array(this.idf.length);
    for (const d of docs) {
      this.collect(d);
      for (const b of this.acc.keys()) df[b]++;
    }
    const N = docs.length;
    for (let b = 0; b < df.length; b++) this.idf[b] = Math.log((N + 1) / (df[b] + 1)) + 1;
  }

  /** out[0..dims) = normalize(xᵀW); returns the pre-normalisation norm (0 for an empty input). */
  embedSparse(x: SparseVec, out: Float32Array, outOffset = 0): number {
    const d = this.config.dims;
    const W = this.weights;
    out.fill(0, outOffset, outOffset + d);
    for (let i = 0; i < x.idx.length; i++) {
      const row = x.idx[i] * d;
      const v = x.val[i];
      for (let j = 0; j < d; j++) out[outOffset + j] += v * W[row + j];
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += out[outOffset + j] * out[outOffset + j];
    norm = Math.sqrt(norm);
    if (norm > 0) for (let j = 0; j < d; j++) out[outOffset + j] /= norm;
    return norm;
  }

  /** Unit embedding of an item's fields (or of a query: pass it as `title`). */
  embed(f: ContentFields, out: Float32Array = new Float32Array(this.config.dims), outOffset = 0): Float32Array {
    this.embedSparse(this.features(f), out, outOffset);
    return out;
  }

  /** Embeds many items: returns [n, dims] row-major. */
  embedAll(docs: readonly ContentFields[]): Float32Array {
    const d = this.config.dims;
    const out = new Float32Array(docs.length * d);
    for (let i = 0; i < docs.length; i++) this.embed(docs[i], out, i * d);
    return out;
  }

  /** Serialisable state (weights + idf) for model artifacts and for hand-off from a training worker. */
  state(): EncoderState {
    return { config: this.config, weights: this.weights, idf: this.idf };
  }

  /**
   * An encoder from a saved state (e.g. weights trained in a worker thread and transferred back). The
   * arrays are copied into a fresh encoder after their lengths are checked against the config.
   */
  static fromState(state: EncoderState): ContentEncoder {
    const enc = new ContentEncoder(state.config);
    if (!(state.weights instanceof Float32Array) || state.weights.length !== enc.weights.length) {
      throw new ValidationError('encoder state weights do not match its config', [
        { path: 'weights', message: `expected ${enc.weights.length} floats, got ${state.weights?.length}` },
      ]);
    }
    if (!(state.idf instanceof Float32Array) || state.idf.length !== enc.idf.length) {
      throw new ValidationError('encoder state idf does not match its config', [
        { path: 'idf', message: `expected ${enc.idf.length} floats, got ${state.idf?.length}` },
      ]);
    }
    enc.weights.set(state.weights);
    enc.idf.set(state.idf);
    return enc;
  }
}

/** What a trained tower is: its config, W ([rows, dims] row-major) and the catalog idf ([buckets]). */
export interface EncoderState {
  config: EncoderConfig;
  weights: Float32Array;
  idf: Float32Array;
}

/** A pseudo-query drawn from an item's own content: what a user might type to find it. */
export function pseudoQuery(f: ContentFields, rng: Rng): ContentFields {
  const choices: ContentFields[] = [];
  const tags = f.tags ?? [];
  if (tags.length > 0) {
    choices.push({ title: tags[rng.int(tags.length)] });
    if (tags.length > 1) choices.push({ title: `${tags[rng.int(tags.length)]} ${tags[rng.int(tags.length)]}` });
  }
  if (f.title) choices.push({ title: f.title });
  if (f.creator) choices.push({ title: f.creator });
  const words = tokenize(f.text ?? '');
  if (words.length > 0) {
    const k = 1 + rng.int(Math.min(3, words.length));
    const start = rng.int(words.length - k + 1);
    choices.push({ title: words.slice(start, start + k).join(' ') });
  }
  return choices.length > 0 ? choices[rng.int(choices.length)] : { title: '' };
}

/**
 * Pairs of items consumed close together by the same user: for each position, a partner within
 * `window` steps, up to maxPairs pairs sampled uniformly over positions. Returns pairs: [p, 2].
 */
export function cooccurrencePairs(
  offsets: Int32Array,
  items: Int32Array,
  window: number,
  maxPairs: number,
  rng: Rng,
): Int32Array {
  const total = items.length;
  const n = Math.min(maxPairs, total);
  const out = new Int32Array(n * 2);
  const numUsers = offsets.length - 1;
  let k = 0;
  let guard = 0;
  while (k < n && guard++ < n * 20) {
    const pos = rng.int(total);
    // Binary search the user owning pos.
    let lo = 0;
    let hi = numUsers;
    while (lo < hi - 1) {
      const mid = (lo + hi) >>> 1;
      if (offsets[mid] <= pos) lo = mid;
      else hi = mid;
    }
    const s = offsets[lo];
    const e = offsets[lo + 1];
    if (e - s < 2) continue;
    let off = 1 + rng.int(window);
    if (rng.next() < 0.5) off = -off;
    const p2 = Math.max(s, Math.min(e - 1, pos + off));
    if (p2 === pos || items[p2] === items[pos]) continue;
    out[k * 2] = items[pos];
    out[k * 2 + 1] = items[p2];
    k++;
  }
  return out.subarray(0, k * 2);
}

export interface TrainReport {
  steps: number;
  /** Mean in-batch loss over the first and last tenth of steps. */
  lossStart: number;
  lossEnd: number;
  seconds: number;
}

/**
 * Trains the encoder in place. docs: the catalog by item ix; pairs: [p, 2] co-consumed item ixs
 * (may be empty: then only self pairs are used).
 */
export function trainEncoder(
  enc: ContentEncoder,
  docs: readonly ContentFields[],
  pairs: Int32Array,
  config: TrainConfigInput = {},
): TrainReport {
  const c = parse(TrainConfigSchema, config, 'train');
  const t0 = performance.now();
  const rng = new Rng(c.seed);
  const d = enc.dims;
  const B = c.batchSize;
  const W = enc.weights;
  const numPairs = pairs.length / 2;
  if (docs.length < 2) throw new ValidationError('need at least 2 items to train the encoder', [{ path: 'docs', message: `got ${docs.length}` }]);
  for (let i = 0; i < pairs.length; i++) {
    if (pairs[i] < 0 || pairs[i] >= docs.length) {
      throw new ValidationError('pair item ix out of range', [{ path: `pairs[${i}]`, message: `got ${pairs[i]}` }]);
    }
  }
  // logQ[i] = log P(item i is a batch positive) under the sampling below.
  const logQ = new Float32Array(docs.length);
  {
    const cnt = new Float64Array(docs.length);
    for (let k = 1; k < pairs.length; k += 2) cnt[pairs[k]]++;
    const coF = numPairs > 0 ? c.coFraction : 0;
    for (let i = 0; i < docs.length; i++) {
      logQ[i] = c.logQ ? Math.log(coF * (numPairs > 0 ? cnt[i] / numPairs : 0) + (1 - coF) / docs.length) : 0;
    }
  }
  // No steps (serve's start-up build fits only the idf): skip caching the features of every item,
  // seconds of work at a million items.
  if (c.steps === 0) return { steps: 0, lossStart: NaN, lossEnd: NaN, seconds: (performance.now() - t0) / 1000 };
  // Item-side features are fixed: cache them once.
  const itemFeats: SparseVec[] = docs.map((f) => enc.features(f));
  // Row-wise Adagrad accumulators: one per bucket.
  const g2 = new Float32Array(enc.rows);
  // qe, pe: [B, dims] unit embeddings; qn, pn: [B] pre-normalisation norms.
  const qe = new Float32Array(B * d);
  const pe = new Float32Array(B * d);
  const qn = new Float32Array(B);
  const pn = new Float32Array(B);
  const logits = new Float32Array(B * B); // then softmax probabilities P[i, j]
  const dq = new Float32Array(B * d);
  const dp = new Float32Array(B * d);
  const rowGrad = new Float32Array(d);
  const qFeats: SparseVec[] = new Array(B);
  const pIx = new Int32Array(B);
  const lossLog: number[] = [];
  const invT = 1 / c.temperature;

  const backprop = (x: SparseVec, e: Float32Array, eo: number, norm: number, de: Float32Array): void => {
    if (norm === 0) return;
    // d/du of normalize(u): (de − e (e·de)) / ||u||
    let dot = 0;
    for (let j = 0; j < d; j++) dot += e[eo + j] * de[eo + j];
    for (let j = 0; j < d; j++) rowGrad[j] = (de[eo + j] - e[eo + j] * dot) / norm;
    for (let i = 0; i < x.idx.length; i++) {
      const b = x.idx[i];
      const v = x.val[i];
      let sq = 0;
      for (let j = 0; j < d; j++) sq += v * rowGrad[j] * (v * rowGrad[j]);
      g2[b] += sq / d;
      const lr = c.learningRate / Math.sqrt(g2[b] + 1e-8);
      const row = b * d;
      for (let j = 0; j < d; j++) W[row + j] -= lr * v * rowGrad[j];
    }
  };

  for (let step = 0; step < c.steps; step++) {
    for (let i = 0; i < B; i++) {
      let a: number;
      let p: number;
      if (numPairs > 0 && rng.next() < c.coFraction) {
        const k = rng.int(numPairs);
        a = pairs[2 * k];
        p = pairs[2 * k + 1];
      } else {
        a = p = rng.int(docs.length);
      }
      qFeats[i] = enc.features(pseudoQuery(docs[a], rng));
      pIx[i] = p;
      qn[i] = enc.embedSparse(qFeats[i], qe, i * d);
      pn[i] = enc.embedSparse(itemFeats[p], pe, i * d);
    }
    // logits[i, j] = qe_i · pe_j / T; softmax over j; loss = −log P[i, i].
    let loss = 0;
    for (let i = 0; i < B; i++) {
      let mx = -Infinity;
      for (let j = 0; j < B; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += qe[i * d + k] * pe[j * d + k];
        // The same item twice in a batch is not a negative of itself.
        s = j !== i && pIx[j] === pIx[i] ? -Infinity : s * invT - logQ[pIx[j]];
        logits[i * B + j] = s;
        if (s > mx) mx = s;
      }
      let z = 0;
      for (let j = 0; j < B; j++) z += logits[i * B + j] = Math.exp(logits[i * B + j] - mx);
      for (let j = 0; j < B; j++) logits[i * B + j] /= z;
      loss -= Math.log(Math.max(1e-12, logits[i * B + i]));
    }
    lossLog.push(loss / B);
    // dL/dqe_i = Σ_j (P_ij − δ_ij) pe_j / T / B;  dL/dpe_j = Σ_i (P_ij − δ_ij) qe_i / T / B
    dq.fill(0);
    dp.fill(0);
    const scale = invT / B;
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < B; j++) {
        const g = (logits[i * B + j] - (i === j ? 1 : 0)) * scale;
        if (g === 0) continue;
        for (let k = 0; k < d; k++) {
          dq[i * d + k] += g * pe[j * d + k];
          dp[j * d + k] += g * qe[i * d + k];
        }
      }
    }
    for (let i = 0; i < B; i++) {
      backprop(qFeats[i], qe, i * d, qn[i], dq);
      backprop(itemFeats[pIx[i]], pe, i * d, pn[i], dp);
    }
  }
  const tenth = Math.max(1, Math.floor(lossLog.length / 10));
  const mean = (a: number[]): number => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
  return {
    steps: c.steps,
    lossStart: mean(lossLog.slice(0, tenth)),
    lossEnd: mean(lossLog.slice(-tenth)),
    seconds: (performance.now() - t0) / 1000,
  };
}
