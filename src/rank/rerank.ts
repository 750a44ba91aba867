/**
 * Re-ranking: turns a scored candidate pool into the page the user sees. Filters that only remove items
 * (request exclusions, blocked creators, disliked items) live in the candidate filter so that sources
 * never spend quota on them; what needs the page as a whole lives here:
 *
 *   adjusted(i) = relevance(i)/relevance(best) + freshnessWeight · 2^{-age(i)/halfLife} + Σ rule weights
 *   pick        = argmax_i  λ · adjusted(i) − (1 − λ) · max_{j ∈ page} sim(i, j)        (MMR)
 *
 * MMR is Carbonell & Goldstein, "The Use of MMR, Diversity-Based Reranking for Reordering Documents and
 * Producing Summaries", SIGIR 1998. sim is the cosine of item embeddings when the caller provides them
 * for both items, else the Jaccard similarity of their tag sets. Greedy selection keeps each candidate's
 * running max-similarity to the page, so a page of n from m candidates costs O(n·m) similarity
 * evaluations; the picked objective values never increase, so the returned scores stay sorted.
 *
 * Page rules: at most `creatorCap` items per creator (a hard cap: when the pool holds nothing else, the page
 * is shorter rather than breaking it), and one item per (creator, normalised title) — re-uploads of one work
 * count once. All buffers are allocated once per capacity; a call allocates nothing per item.
 */
import type { Catalog } from '../features/catalog.js';
import { ensureLength } from '../features/arrays.js';

export interface TagRule {
  tag: string;
  /** Added to the normalised relevance (1 = the best candidate's relevance); negative buries. */
  weight: number;
}

export interface RerankConfig {
  /** MMR trade-off in [0, 1]: 1 = relevance only (no diversity), 0 = diversity only. */
  lambda: number;
  /** Most items per creator on one page; 0 = no cap. */
  creatorCap: number;
  /** Bonus for a brand-new item (relative to the best candidate's relevance of 1); 0 = off. */
  freshnessWeight: number;
  /** Half-life of the freshness bonus. */
  freshnessHalfLifeMs: number;
  /** Score rules per tag (boost > 0, bury < 0); an item gets the sum over its tags. */
  tagRules: readonly TagRule[];
  /** Drop an item when one with the same creator and normalised title is already on the page. */
  dedupeTitles: boolean;
}

/** Unit-normalised item embeddings (e.g. the active two-tower model's item tower). */
export interface ItemEmbeddings {
  readonly dim: number;
  /** data: [rows, dim], unit-normalised rows. */
  readonly data: Float32Array;
  /** Row of an item ix in data, or -1 when the model has no vector for it. */
  rowOf(itemIx: number): number;
}

/** Per picked item: where it came from in the pool and what re-ranking did to it. */
export interface RerankResult {
  count: number;
  /** poolPos: [count] index of each picked item in the input pool. */
  poolPos: Int32Array;
  /** score: [count] the MMR objective at pick time (descending). */
  score: Float32Array;
  /** relevance: [count] the pool score normalised by the best pool score. */
  relevance: Float32Array;
  /** freshness: [count] freshness bonus. */
  freshness: Float32Array;
  /** rules: [count] sum of tag-rule weights. */
  rules: Float32Array;
  /** maxSim: [count] the largest similarity to an item placed above it (0 for the first). */
  maxSim: Float32Array;
  /** Pool items removed by the creator cap or title de-duplication. */
  capped: number;
  deduped: number;
}

export function validateRerankConfig(c: RerankConfig): void {
  const bad = (field: string, why: string): never => {
    throw new RangeError(`rerank.${field} ${why}`);
  };
  if (!(c.lambda >= 0 && c.lambda <= 1)) bad('lambda', `must be in [0, 1], got ${c.lambda}`);
  if (!(Number.isInteger(c.creatorCap) && c.creatorCap >= 0)) bad('creatorCap', `must be a non-negative integer, got ${c.creatorCap}`);
  if (!(c.freshnessWeight >= 0 && Number.isFinite(c.freshnessWeight))) bad('freshnessWeight', 'must be finite and ≥ 0');
  if (!(c.freshnessHalfLifeMs > 0 && Number.isFinite(c.freshnessHalfLifeMs))) bad('freshnessHalfLifeMs', 'must be finite and > 0');
  for (const r of c.tagRules) if (!Number.isFinite(r.weight)) bad('tagRules', `weight of '${r.tag}' must be finite`);
}

/** True when the config changes anything beyond passing the first n pool items through. */
export function rerankActive(c: RerankConfig): boolean {
  return c.lambda < 1 || c.creatorCap > 0 || c.freshnessWeight > 0 || c.tagRules.length > 0 || c.dedupeTitles;
}

const DEAD = -Infinity;

export class Reranker {
  /** Per pool entry: adjusted score (DEAD once picked or removed), running max-similarity, components. */
  private readonly adjusted: Float64Array;
  private readonly maxSim: Float64Array;
  private readonly fresh: Float32Array;
  private readonly rule: Float32Array;
  private readonly out: RerankResult;
  /** creatorCount/creatorStamp: [creators] items per creator placed in the current call. */
  private creatorCount = new Int32Array(256);
  private creatorStamp = new Uint32Array(256);
  private epoch = 0;
  /** Resolved tag rules: (tagIx, weight) pairs, refreshed when the catalog learns new tags. */
  private ruleTagIx: Int32Array;
  private ruleWeight: Float32Array;
  private rulesResolvedAt = -1;

  constructor(
    private readonly catalog: Catalog,
    readonly config: RerankConfig,
    readonly capacity: number,
  ) {
    validateRerankConfig(config);
    this.adjusted = new Float64Array(capacity);
    this.maxSim = new Float64Array(capacity);
    this.fresh = new Float32Array(capacity);
    this.rule = new Float32Array(capacity);
    this.ruleTagIx = new Int32Array(config.tagRules.length).fill(-1);
    this.ruleWeight = Float32Array.from(config.tagRules.map((r) => r.weight));
    this.out = {
      count: 0,
      poolPos: new Int32Array(capacity),
      score: new Float32Array(capacity),
      relevance: new Float32Array(capacity),
      freshness: new Float32Array(capacity),
      rules: new Float32Array(capacity),
      maxSim: new Float32Array(capacity),
      capped: 0,
      deduped: 0,
    };
  }

  /**
   * Picks up to n items from pool items[0..m) with scores[0..m) (descending, ≥ 0). The result is valid until
   * the next call. `lambda` overrides the configured trade-off for this call.
   */
  rerank(items: Int32Array, scores: Float32Array, m: number, n: number, nowMs: number, embeddings?: ItemEmbeddings, lambda = this.config.lambda): RerankResult {
    if (m > this.capacity) throw new RangeError(`rerank pool of ${m} exceeds capacity ${this.capacity}`);
    if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`lambda must be in [0, 1], got ${lambda}`);
    const cfg = this.config;
    const cat = this.catalog;
    this.resolveRules();
    const top = m > 0 && scores[0] > 0 ? scores[0] : 1;
    const invHalfLife = 1 / cfg.freshnessHalfLifeMs;
    for (let i = 0; i < m; i++) {
      const ix = items[i];
      let f = 0;
      if (cfg.freshnessWeight > 0) f = cfg.freshnessWeight * Math.pow(2, -Math.max(0, nowMs - cat.createdAtMs[ix]) * invHalfLife);
      let r = 0;
      for (let k = 0; k < this.ruleTagIx.length; k++) if (this.ruleTagIx[k] >= 0 && cat.hasTag(ix, this.ruleTagIx[k])) r += this.ruleWeight[k];
      this.fresh[i] = f;
      this.rule[i] = r;
      this.adjusted[i] = scores[i] / top + f + r;
      this.maxSim[i] = 0;
    }
    if (++this.epoch === 0xffffffff) {
      this.creatorStamp.fill(0);
      this.epoch = 1;
    }
    this.creatorStamp = ensureLength(this.creatorStamp, cat.creators.size);
    this.creatorCount = ensureLength(this.creatorCount, cat.creators.size);

    const out = this.out;
    out.count = 0;
    out.capped = 0;
    out.deduped = 0;
    const diverse = lambda < 1;
    const limit = Math.min(n, m);
    while (out.count < limit) {
      let best = -1;
      let bestValue = -Infinity;
      for (let i = 0; i < m; i++) {
        const a = this.adjusted[i];
        if (a === DEAD) continue;
        const v = diverse ? lambda * a - (1 - lambda) * this.maxSim[i] : a;
        if (v > bestValue) {
          bestValue = v;
          best = i;
        }
      }
      if (best < 0) break;
      const o = out.count++;
      out.poolPos[o] = best;
      out.score[o] = bestValue;
      out.relevance[o] = scores[best] / top;
      out.freshness[o] = this.fresh[best];
      out.rules[o] = this.rule[best];
      out.maxSim[o] = this.maxSim[best];
      this.adjusted[best] = DEAD;
      this.afterPick(items, m, best, embeddings, diverse);
    }
    return out;
  }

  /** Applies the page rules for the item just picked and updates the others' max-similarity. */
  private afterPick(items: Int32Array, m: number, picked: number, embeddings: ItemEmbeddings | undefined, diverse: boolean): void {
    const cfg = this.config;
    const cat = this.catalog;
    const ix = items[picked];
    const c = cat.creatorIx[ix];
    let capReached = false;
    if (cfg.creatorCap > 0 && c >= 0) {
      if (this.creatorStamp[c] !== this.epoch) {
        this.creatorStamp[c] = this.epoch;
        this.creatorCount[c] = 0;
      }
      capReached = ++this.creatorCount[c] >= cfg.creatorCap;
    }
    const title = cfg.dedupeTitles ? cat.titleKey[ix] : 0;
    const row = diverse && embeddings ? embeddings.rowOf(ix) : -1;
    for (let i = 0; i < m; i++) {
      if (this.adjusted[i] === DEAD) continue;
      const jx = items[i];
      if (capReached && cat.creatorIx[jx] === c) {
        this.adjusted[i] = DEAD;
        this.out.capped++;
        continue;
      }
      if (title !== 0 && cat.titleKey[jx] === title && cat.creatorIx[jx] === c) {
        this.adjusted[i] = DEAD;
        this.out.deduped++;
        continue;
      }
      if (!diverse) continue;
      const s = this.similarity(ix, row, jx, embeddings);
      if (s > this.maxSim[i]) this.maxSim[i] = s;
    }
  }

  private similarity(a: number, rowA: number, b: number, embeddings: ItemEmbeddings | undefined): number {
    if (rowA >= 0 && embeddings) {
      const rowB = embeddings.rowOf(b);
      if (rowB >= 0) {
        const d = embeddings.dim;
        const v = embeddings.data;
        let dot = 0;
        for (let k = 0, pa = rowA * d, pb = rowB * d; k < d; k++) dot += v[pa + k] * v[pb + k];
        return dot;
      }
    }
    return this.catalog.tagJaccard(a, b);
  }

  /** Maps rule tags to tag ixs; tags the catalog has not seen yet are retried when new tags appear. */
  private resolveRules(): void {
    const known = this.catalog.tags.size;
    if (known === this.rulesResolvedAt) return;
    const rules = this.config.tagRules;
    for (let k = 0; k < rules.length; k++) this.ruleTagIx[k] = this.catalog.tags.get(rules[k].tag);
    this.rulesResolvedAt = known;
  }
}
