/**
 * The learned multi-objective ranker: re-scores a merged candidate pool with one small model per outcome
 * (e.g. play, complete, like, skip) and blends the predicted probabilities with the reward weights. The
 * first outcome is engagement (the user starts the item); the others are modelled given engagement,
 * trained only on engaged rows, so a rare outcome's model learns what distinguishes it and does not
 * relearn "will be engaged" (which a negative weight would otherwise cancel):
 *
 *   score(u, i) = P(e | u, i, ctx) · (w_e + Σ_{o ≠ e} w_o · P(o | e, u, i, ctx))   (w_skip < 0: skips sink)
 *
 * Each outcome model is an L2-regularised logistic regression on standardised features, trained with
 * mini-batch Adam on logged (user, item, context) examples — impressions with their outcomes, or, where no
 * impressions exist (offline datasets), the user's real next interaction against negatives sampled from
 * the candidate pool the pipeline actually produced. This is the multi-task ranking of e.g. Zhao et al.,
 * "Recommending What Video to Watch Next: A Multitask Ranking System" (RecSys 2019) with linear towers.
 *
 * Features (RANK_FEATURES, one row per candidate, filled by `RankFeatures.fill`): user activity and tenure,
 * item popularity over three windows, age, completion/skip/like rates, creator and tag affinity of the
 * user, follow, session length and recent skips, hour of day, surface, and the candidate sources' scores.
 */
import type { Catalog } from '../features/catalog.js';
import type { OnlineFeatures, UserHistory } from '../features/index.js';

export const RANK_FEATURES = [
  'userActivity', // log1p(interactions)
  'userTenureDays', // log1p(days since first interaction)
  'popShort', // log1p(24 h-decayed engagement)
  'popLong', // log1p(30 d-decayed engagement)
  'popAll', // log1p(all-time positives)
  'ageDays', // log1p(item age in days)
  'completionRate',
  'skipRate',
  'likeRate',
  'creatorAffinity', // share of the user's recent positives by the item's creator
  'tagAffinity', // mean tag Jaccard to the user's recent positives
  'followsCreator',
  'sessionLength', // log1p(entries in the current session)
  'recentSkips', // negatives among the last 5 session entries
  'hourSin',
  'hourCos',
  'surfaceHome',
  'surfaceNext',
  'poolRank', // log1p(position in the merged pool)
  'mergedScore', // merged score / best merged score
  'src:cooc',
  'src:cooc-session',
  'src:trending',
  'src:fresh',
  'src:creator',
  'in:cooc',
  'in:trending',
  'in:fresh',
  'simLast', // item-item similarity to the newest positive item
  'simLast3', // summed similarity to the three newest positive items
] as const;
export const NUM_RANK_FEATURES = RANK_FEATURES.length;
const SOURCE_FEATURE: Record<string, number> = {
  cooc: RANK_FEATURES.indexOf('src:cooc'),
  'cooc-session': RANK_FEATURES.indexOf('src:cooc-session'),
  trending: RANK_FEATURES.indexOf('src:trending'),
  fresh: RANK_FEATURES.indexOf('src:fresh'),
  creator: RANK_FEATURES.indexOf('src:creator'),
};
const IN_COOC = RANK_FEATURES.indexOf('in:cooc');
const IN_TRENDING = RANK_FEATURES.indexOf('in:trending');
const IN_FRESH = RANK_FEATURES.indexOf('in:fresh');
const SIM_LAST = RANK_FEATURES.indexOf('simLast');
const SIM_LAST3 = RANK_FEATURES.indexOf('simLast3');
const DAY_MS = 86_400_000;
/** Recent positives the affinity features look at. */
const AFFINITY_ITEMS = 20;

/** One pool as the merger produced it, the input of feature assembly. */
export interface PoolView {
  count: number;
  items: Int32Array;
  /** merged: [count] merged scores, descending. */
  merged: Float32Array;
  /** Per source name: raw scores [count] (NaN = not proposed) and the best score in the pool. */
  sources: { name: string; raw: Float32Array; best: number }[];
}

/** Assembles the feature rows of a pool from the online state (no allocation per item). */
export class RankFeatures {
  private recent = new Int32Array(AFFINITY_ITEMS);

  /** similarity(a, b): item-item similarity of the online index (co-occurrence), for the recency features. */
  constructor(
    private readonly f: OnlineFeatures,
    private readonly similarity: (a: number, b: number) => number = () => 0,
  ) {}

  /** x: [pool.count, NUM_RANK_FEATURES] row-major output. */
  fill(h: UserHistory | undefined, pool: PoolView, surface: string, nowMs: number, x: Float32Array): void {
    const F = NUM_RANK_FEATURES;
    const f = this.f;
    const cat: Catalog = f.catalog;
    const stats = f.itemStats;
    x.fill(0, 0, pool.count * F);
    // User-level values, once per pool.
    let nRecent = 0;
    let recentSkips = 0;
    if (h) {
      for (let k = 0; k < h.length && nRecent < AFFINITY_ITEMS; k++) {
        const s = h.slot(k);
        if (h.weights[s] > 0) this.recent[nRecent++] = h.items[s];
      }
      for (let k = 0; k < Math.min(5, h.sessionLength); k++) if (h.weights[h.slot(k)] < 0) recentSkips++;
    }
    const activity = h ? Math.log1p(h.total) : 0;
    const tenure = h && Number.isFinite(h.firstMs) ? Math.log1p(Math.max(0, nowMs - h.firstMs) / DAY_MS) : 0;
    const session = h ? Math.log1p(h.sessionLength) : 0;
    const hour = ((nowMs % DAY_MS) / DAY_MS) * 2 * Math.PI;
    const factorShort = f.trending.factorAt(nowMs);
    const factorLong = f.popularityLong.factorAt(nowMs);
    const best = pool.count > 0 && pool.merged[0] > 0 ? pool.merged[0] : 1;
    for (let i = 0; i < pool.count; i++) {
      const ix = pool.items[i];
      const o = i * F;
      const positives = stats.get(stats.positives, ix);
      x[o] = activity;
      x[o + 1] = tenure;
      x[o + 2] = Math.log1p(Math.max(0, f.trending.key(ix) * factorShort));
      x[o + 3] = Math.log1p(Math.max(0, f.popularityLong.key(ix) * factorLong));
      x[o + 4] = Math.log1p(positives);
      x[o + 5] = Math.log1p(Math.max(0, nowMs - cat.createdAtMs[ix]) / DAY_MS);
      x[o + 6] = (stats.get(stats.completes, ix) + 1) / (positives + 2);
      x[o + 7] = (stats.get(stats.skips, ix) + 1) / (positives + 2);
      x[o + 8] = (stats.get(stats.likes, ix) + 1) / (positives + 2);
      const c = cat.creatorIx[ix];
      if (nRecent > 0) {
        let same = 0;
        let jac = 0;
        for (let k = 0; k < nRecent; k++) {
          const r = this.recent[k];
          if (c >= 0 && cat.creatorIx[r] === c) same++;
          jac += cat.tagJaccard(ix, r);
        }
        x[o + 9] = same / nRecent;
        x[o + 10] = jac / nRecent;
      }
      x[o + 11] = h && c >= 0 && h.followedCreators.has(c) ? 1 : 0;
      x[o + 12] = session;
      x[o + 13] = recentSkips;
      x[o + 14] = Math.sin(hour);
      x[o + 15] = Math.cos(hour);
      x[o + 16] = surface === 'home' ? 1 : 0;
      x[o + 17] = surface === 'next' ? 1 : 0;
      x[o + 18] = Math.log1p(i);
      x[o + 19] = pool.merged[i] / best;
      if (nRecent > 0) {
        const s0 = this.similarity(this.recent[0], ix);
        let s3 = s0;
        for (let k = 1; k < Math.min(3, nRecent); k++) s3 += this.similarity(this.recent[k], ix);
        x[o + SIM_LAST] = s0;
        x[o + SIM_LAST3] = s3;
      }
    }
    for (const src of pool.sources) {
      const col = SOURCE_FEATURE[src.name];
      if (col === undefined) continue;
      const inCol = src.name.startsWith('cooc') ? IN_COOC : src.name === 'trending' ? IN_TRENDING : src.name === 'fresh' ? IN_FRESH : -1;
      const scale = src.best > 0 ? 1 / src.best : 0;
      for (let i = 0; i < pool.count; i++) {
        const v = src.raw[i];
        if (Number.isNaN(v)) continue;
        x[i * F + col] = v * scale;
        if (inCol >= 0) x[i * F + inCol] = 1;
      }
    }
  }
}

export interface RankerConfig {
  /** Outcomes modelled, e.g. ['play', 'complete', 'like', 'skip']. */
  outcomes: string[];
  /** Blend weight per outcome (the reward weights; negative for outcomes to avoid). */
  weights: Record<string, number>;
  l2: number;
  learningRate: number;
  epochs: number;
  batchSize: number;
  seed: number;
}

export const DEFAULT_RANKER_CONFIG: RankerConfig = {
  outcomes: ['play'],
  weights: { play: 1 },
  l2: 1e-4,
  learningRate: 0.01,
  epochs: 4,
  batchSize: 256,
  seed: 1,
};

/** Training examples: x [n, F] features, y [n, outcomes] 0/1 labels. */
export interface RankExamples {
  n: number;
  x: Float32Array;
  y: Uint8Array;
}

export class MultiObjectiveRanker {
  readonly numFeatures = NUM_RANK_FEATURES;
  /** mean/invStd: [F] standardisation fitted on the training rows. */
  readonly mean = new Float32Array(NUM_RANK_FEATURES);
  readonly invStd = new Float32Array(NUM_RANK_FEATURES).fill(1);
  /** w: [outcomes, F] weights; b: [outcomes] biases. */
  readonly w: Float32Array;
  readonly b: Float32Array;
  private readonly blend: Float32Array;

  constructor(readonly config: RankerConfig = DEFAULT_RANKER_CONFIG) {
    if (config.outcomes.length === 0) throw new RangeError('ranker needs at least one outcome');
    for (const o of config.outcomes) if (!Number.isFinite(config.weights[o] ?? 0)) throw new RangeError(`ranker weight of ${o} must be finite`);
    this.w = new Float32Array(config.outcomes.length * NUM_RANK_FEATURES);
    this.b = new Float32Array(config.outcomes.length);
    this.blend = Float32Array.from(config.outcomes.map((o) => config.weights[o] ?? 0));
  }

  /** Fits every outcome model; returns the final mean log-loss per outcome. */
  fit(ex: RankExamples): Record<string, number> {
    const F = NUM_RANK_FEATURES;
    const O = this.config.outcomes.length;
    if (ex.x.length < ex.n * F || ex.y.length < ex.n * O) throw new RangeError('ranker examples: x or y shorter than n rows');
    if (ex.n === 0) throw new RangeError('ranker needs at least one example');
    // Standardise.
    const sum = new Float64Array(F);
    const sq = new Float64Array(F);
    for (let r = 0; r < ex.n; r++)
      for (let j = 0; j < F; j++) {
        const v = ex.x[r * F + j];
        sum[j] += v;
        sq[j] += v * v;
      }
    for (let j = 0; j < F; j++) {
      const m = sum[j] / ex.n;
      const variance = sq[j] / ex.n - m * m;
      this.mean[j] = m;
      this.invStd[j] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 0;
    }
    const z = new Float32Array(F);
    const { learningRate: lr, l2, epochs, batchSize } = this.config;
    const losses: Record<string, number> = {};
    // Adam state per outcome.
    const m1 = new Float32Array(F + 1);
    const m2 = new Float32Array(F + 1);
    const grad = new Float64Array(F + 1);
    const order = new Int32Array(ex.n);
    let seed = this.config.seed >>> 0 || 1;
    const rand = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 4294967296;
    };
    for (let o = 0; o < O; o++) {
      m1.fill(0);
      m2.fill(0);
      let step = 0;
      const w = this.w.subarray(o * F, (o + 1) * F);
      let loss = 0;
      // Rows this outcome trains on: all for engagement, the engaged rows for the conditional outcomes.
      let rows = 0;
      for (let r = 0; r < ex.n; r++) if (o === 0 || ex.y[r * O] === 1) order[rows++] = r;
      if (rows === 0) {
        losses[this.config.outcomes[o]] = NaN;
        continue;
      }
      const rowList = order.slice(0, rows);
      for (let epoch = 0; epoch < epochs; epoch++) {
        order.set(rowList);
        for (let r = rows - 1; r > 0; r--) {
          const t = Math.floor(rand() * (r + 1));
          const tmp = order[r];
          order[r] = order[t];
          order[t] = tmp;
        }
        loss = 0;
        for (let start = 0; start < rows; start += batchSize) {
          const end = Math.min(rows, start + batchSize);
          grad.fill(0);
          for (let q = start; q < end; q++) {
            const r = order[q];
            let logit = this.b[o];
            for (let j = 0; j < F; j++) {
              z[j] = (ex.x[r * F + j] - this.mean[j]) * this.invStd[j];
              logit += w[j] * z[j];
            }
            const p = 1 / (1 + Math.exp(-logit));
            const y = ex.y[r * O + o];
            loss -= y ? Math.log(Math.max(p, 1e-12)) : Math.log(Math.max(1 - p, 1e-12));
            const d = p - y;
            for (let j = 0; j < F; j++) grad[j] += d * z[j];
            grad[F] += d;
          }
          const inv = 1 / (end - start);
          step++;
          const c1 = 1 - Math.pow(0.9, step);
          const c2 = 1 - Math.pow(0.999, step);
          for (let j = 0; j <= F; j++) {
            const g = grad[j] * inv + (j < F ? l2 * w[j] : 0);
            m1[j] = 0.9 * m1[j] + 0.1 * g;
            m2[j] = 0.999 * m2[j] + 0.001 * g * g;
            const delta = (lr * (m1[j] / c1)) / (Math.sqrt(m2[j] / c2) + 1e-8);
            if (j < F) w[j] -= delta;
            else this.b[o] -= delta;
          }
        }
      }
      losses[this.config.outcomes[o]] = loss / rows;
    }
    return losses;
  }

  /** P(outcome o) for feature row r of x ([rows, F]). */
  probability(x: Float32Array, r: number, o: number): number {
    const F = NUM_RANK_FEATURES;
    let logit = this.b[o];
    for (let j = 0; j < F; j++) logit += this.w[o * F + j] * (x[r * F + j] - this.mean[j]) * this.invStd[j];
    return 1 / (1 + Math.exp(-logit));
  }

  /** Blended score of every row: out[r] = P(e) · (w_e + Σ_{o>0} w_o · P(o | e)). */
  score(x: Float32Array, rows: number, out: Float32Array): void {
    const O = this.config.outcomes.length;
    for (let r = 0; r < rows; r++) {
      let s = this.blend[0];
      for (let o = 1; o < O; o++) if (this.blend[o] !== 0) s += this.blend[o] * this.probability(x, r, o);
      out[r] = this.probability(x, r, 0) * s;
    }
  }

  /** What the model registry persists: config (with the feature list it was trained on) and tensors. */
  toArtifacts(): { config: Record<string, unknown>; weights: Record<string, Float32Array> } {
    return {
      config: { ...this.config, features: [...RANK_FEATURES] },
      weights: { w: this.w, b: this.b, mean: this.mean, invStd: this.invStd },
    };
  }

  /** Rebuilds a ranker from registry artifacts; refuses one trained on another feature list. */
  static fromArtifacts(config: Record<string, unknown>, weights: Record<string, Float32Array | Int32Array>): MultiObjectiveRanker {
    const features = config.features as unknown;
    if (!Array.isArray(features) || features.join(',') !== RANK_FEATURES.join(',')) {
      throw new RangeError('ranker artifact was trained on a different feature list; retrain it');
    }
    const { features: _f, ...rest } = config;
    const r = new MultiObjectiveRanker(rest as unknown as RankerConfig);
    const O = r.config.outcomes.length;
    const want: Record<string, number> = { w: O * NUM_RANK_FEATURES, b: O, mean: NUM_RANK_FEATURES, invStd: NUM_RANK_FEATURES };
    for (const [k, n] of Object.entries(want)) {
      const t = weights[k];
      if (!(t instanceof Float32Array) || t.length !== n) throw new RangeError(`ranker artifact tensor ${k} must be ${n} floats`);
    }
    r.w.set(weights.w as Float32Array);
    r.b.set(weights.b as Float32Array);
    r.mean.set(weights.mean as Float32Array);
    r.invStd.set(weights.invStd as Float32Array);
    return r;
  }

  /** The largest standardised weights per outcome (for explanations and reports). */
  topWeights(k = 5): Record<string, { feature: string; weight: number }[]> {
    const F = NUM_RANK_FEATURES;
    const out: Record<string, { feature: string; weight: number }[]> = {};
    this.config.outcomes.forEach((name, o) => {
      out[name] = Array.from({ length: F }, (_, j) => ({ feature: RANK_FEATURES[j], weight: Math.round(this.w[o * F + j] * 1000) / 1000 }))
        .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
        .slice(0, k);
    });
    return out;
  }
}
