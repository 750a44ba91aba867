/**
 * Full-ranking evaluation. Users are scored in blocks of B through `Recommender.scoreBatch` into one
 * reused [B, numItems] Float32Array; per row the history is masked to −Infinity, the targets' ranks are
 * counted in one pass (pessimistic ties, see metrics.ts) and, for beyond-accuracy metrics, a bounded
 * heap keeps the top-kmax list. Nothing is allocated per user: all per-row state lives in buffers sized
 * once per call. `validate` is the same loop on the validation targets, for model selection.
 */
import type { Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { TopK } from '../core/topk.js';
import type { FitContext, ItemSideInfo, Recommender } from '../models/types.js';
import {
  buildTagIndex,
  coverage,
  gini,
  groupExposure,
  hitAt,
  intraListDiversity,
  itemCounts,
  multiTargetRanks,
  ndcgAt,
  recallAt,
  reciprocalRank,
  selfInformation,
  type ItemSimilarity,
} from './metrics.js';
import type { EvalSplit } from './protocols.js';

export const DEFAULT_KS = [1, 5, 10, 20, 50] as const;
export const MAX_K = 100;
export const DEFAULT_BLOCK_USERS = 256;
/** Upper bound on one score block (B · numItems floats), to keep memory bounded on big catalogs. */
const MAX_BLOCK_FLOATS = 64 * 1024 * 1024;

export interface EvaluateOptions {
  /** Cut-offs for the @k metrics, ascending, each in 1..MAX_K. */
  ks?: readonly number[];
  blockUsers?: number;
  /** Tags and creators for diversity and creator Gini. */
  side?: ItemSideInfo;
  /** Item embeddings [numItems, dim] for embedding-based diversity (preferred over tags when given). */
  embeddings?: { emb: Float32Array; dim: number };
  /** Train interactions, for novelty's popularity; absent → no novelty. */
  trainItems?: Int32Array;
  /** Rank each (single) target also among this many sampled non-interacted items (loo-sampled100). */
  sampledNegatives?: number;
  seed?: number;
  /** Coverage, novelty, diversity, Gini (default true). */
  beyondAccuracy?: boolean;
  onProgress?: (doneUsers: number, totalUsers: number) => void;
}

export type MetricValues = Record<string, number | null>;

export interface Queries {
  /** Histories the model conditions on; their items are masked. */
  histories: Sequences;
  /** [Q] users, each at most once. */
  users: Int32Array;
  /** [Q + 1] offsets into targets. */
  targetOffsets: Int32Array;
  /** Distinct targets per query. */
  targets: Int32Array;
}

export function testQueries(s: EvalSplit): Queries {
  return { histories: s.testHistory, users: s.testUsers, targetOffsets: s.testTargetOffsets, targets: s.testTargets };
}

/** Evaluates the split's test queries: the one place the test targets are read. */
export function evaluateSplit(model: Recommender, s: EvalSplit, opts: EvaluateOptions = {}): Promise<MetricValues> {
  return evaluateQueries(model, testQueries(s), {
    trainItems: s.train.items,
    ...opts,
    sampledNegatives: s.protocol === 'loo-sampled100' ? (opts.sampledNegatives ?? 100) : opts.sampledNegatives,
  });
}

export async function evaluateQueries(model: Recommender, q: Queries, opts: EvaluateOptions = {}): Promise<MetricValues> {
  const ks = checkKs(opts.ks ?? DEFAULT_KS);
  const n = q.histories.numItems;
  const U = q.users.length;
  const { offsets: hOff, items: hItems } = q.histories;
  if (q.targetOffsets.length !== U + 1) throw new ValidationError('targetOffsets must have users.length + 1 entries');
  const blockUsers = Math.max(1, Math.min(opts.blockUsers ?? DEFAULT_BLOCK_USERS, Math.floor(MAX_BLOCK_FLOATS / Math.max(1, n)), Math.max(1, U)));
  const beyond = (opts.beyondAccuracy ?? true) && n > 0;
  const sampledN = opts.sampledNegatives ?? 0;

  let maxTargets = 1;
  for (let t = 0; t < U; t++) maxTargets = Math.max(maxTargets, q.targetOffsets[t + 1] - q.targetOffsets[t]);

  // Buffers, sized once.
  const scores = new Float32Array(blockUsers * n); // [B, numItems]
  const ranks = new Int32Array(maxTargets);
  const sortedScratch = new Float64Array(maxTargets);
  const countScratch = new Int32Array(maxTargets + 1);
  const savedTargets = new Float32Array(maxTargets);
  const sumHR = new Float64Array(ks.length);
  const sumNDCG = new Float64Array(ks.length);
  const sumRecall = new Float64Array(ks.length);
  let sumMRR = 0;
  let evaluated = 0;

  const beyondAcc = beyond ? new BeyondAccuracy(ks, n, opts) : null;

  // Sampled-negative state (loo-sampled100).
  const sampledRng = new Rng((opts.seed ?? 0) ^ 0x5a3b1e);
  const stamp = sampledN > 0 ? new Int32Array(n).fill(-1) : null;
  const chosen = sampledN > 0 ? new Int32Array(n).fill(-1) : null;
  const negatives = new Int32Array(Math.max(0, sampledN));
  const sHR = new Float64Array(ks.length);
  const sNDCG = new Float64Array(ks.length);
  const one = new Int32Array(1);

  for (let b0 = 0; b0 < U; b0 += blockUsers) {
    const bn = Math.min(blockUsers, U - b0);
    const blockIxs = q.users.subarray(b0, b0 + bn);
    const out = bn === blockUsers ? scores : scores.subarray(0, bn * n);
    await model.scoreBatch(q.histories, blockIxs, out);
    for (let r = 0; r < bn; r++) {
      const u = blockIxs[r];
      const off = r * n;
      const t0 = q.targetOffsets[b0 + r];
      const t1 = q.targetOffsets[b0 + r + 1];
      const T = t1 - t0;
      if (T === 0) continue;
      // Mask the history, keeping targets' own scores (a target repeated from the history is still ranked).
      for (let t = 0; t < T; t++) savedTargets[t] = out[off + q.targets[t0 + t]];
      for (let p = hOff[u]; p < hOff[u + 1]; p++) out[off + hItems[p]] = -Infinity;
      for (let t = 0; t < T; t++) out[off + q.targets[t0 + t]] = savedTargets[t];

      multiTargetRanks(out, off, n, q.targets, t0, t1, sortedScratch, countScratch, ranks);
      for (let x = 0; x < ks.length; x++) {
        sumHR[x] += hitAt(ranks, T, ks[x]);
        sumNDCG[x] += ndcgAt(ranks, T, ks[x]);
        sumRecall[x] += recallAt(ranks, T, ks[x]);
      }
      sumMRR += reciprocalRank(ranks, T);
      evaluated++;

      if (stamp && chosen) {
        const m = sampleNegatives(u, hOff, hItems, q.targets, t0, t1, n, sampledN, sampledRng, stamp, chosen, negatives);
        const ts = savedTargets[0];
        let c = 0;
        for (let x = 0; x < m; x++) if (out[off + negatives[x]] >= ts || Number.isNaN(ts)) c++;
        one[0] = c;
        for (let x = 0; x < ks.length; x++) {
          sHR[x] += hitAt(one, 1, ks[x]);
          sNDCG[x] += ndcgAt(one, 1, ks[x]);
        }
      }

      beyondAcc?.addRow(out, off);
    }
    opts.onProgress?.(b0 + bn, U);
  }

  const res: MetricValues = {};
  const mean = (s: number): number => (evaluated === 0 ? 0 : s / evaluated);
  for (let x = 0; x < ks.length; x++) {
    res[`HR@${ks[x]}`] = mean(sumHR[x]);
    res[`NDCG@${ks[x]}`] = mean(sumNDCG[x]);
    res[`Recall@${ks[x]}`] = mean(sumRecall[x]);
  }
  res.MRR = mean(sumMRR);
  if (sampledN > 0) {
    for (let x = 0; x < ks.length; x++) {
      res[`sampled${sampledN}_HR@${ks[x]}`] = mean(sHR[x]);
      res[`sampled${sampledN}_NDCG@${ks[x]}`] = mean(sNDCG[x]);
    }
  }
  beyondAcc?.finish(res);
  res.users = evaluated;
  return res;
}

/**
 * Coverage, novelty, diversity and exposure Gini over the top-kMax list of every row, accumulated in
 * per-k buffers sized once (exposure counts [numItems] per k; sums per k).
 */
class BeyondAccuracy {
  private readonly heap: TopK;
  private readonly topScores: Float32Array;
  private readonly topList: Int32Array;
  private readonly exposure: Int32Array[];
  private readonly selfInfo: Float64Array | null;
  private readonly sim: ItemSimilarity | null;
  private readonly noveltySum: Float64Array;
  private readonly noveltyCount: Float64Array;
  private readonly diversitySum: Float64Array;
  private readonly diversityCount: Float64Array;

  constructor(
    private readonly ks: number[],
    private readonly n: number,
    private readonly opts: EvaluateOptions,
  ) {
    const kMax = ks[ks.length - 1];
    this.heap = new TopK(kMax);
    this.topList = new Int32Array(kMax);
    this.topScores = new Float32Array(kMax);
    this.exposure = ks.map(() => new Int32Array(n));
    this.selfInfo = opts.trainItems ? selfInformation(itemCounts(opts.trainItems, n)) : null;
    this.sim = opts.embeddings
      ? { kind: 'embeddings', emb: opts.embeddings.emb, dim: opts.embeddings.dim }
      : opts.side?.tags
        ? { kind: 'tags', tags: buildTagIndex(opts.side.tags) }
        : null;
    this.noveltySum = new Float64Array(ks.length);
    this.noveltyCount = new Float64Array(ks.length);
    this.diversitySum = new Float64Array(ks.length);
    this.diversityCount = new Float64Array(ks.length);
  }

  /** One masked score row out[off .. off+n): its top list (−∞ items never enter) feeds every k. */
  addRow(out: Float32Array, off: number): void {
    const { heap, topList, ks } = this;
    heap.reset(this.topList.length);
    let thr = -Infinity;
    const end = off + this.n;
    for (let j = off; j < end; j++) {
      const s = out[j];
      if (s > thr) {
        heap.push(j - off, s);
        thr = heap.threshold;
      }
    }
    const len = heap.drain(topList, this.topScores);
    for (let x = 0; x < ks.length; x++) {
      const m = Math.min(ks[x], len);
      const ex = this.exposure[x];
      for (let i = 0; i < m; i++) ex[topList[i]]++;
      if (this.selfInfo) {
        for (let i = 0; i < m; i++) this.noveltySum[x] += this.selfInfo[topList[i]];
        this.noveltyCount[x] += m;
      }
      if (this.sim && m >= 2) {
        const d = intraListDiversity(topList, 0, m, this.sim);
        if (!Number.isNaN(d)) {
          this.diversitySum[x] += d;
          this.diversityCount[x]++;
        }
      }
    }
  }

  finish(res: MetricValues): void {
    const creators = this.opts.side?.creators ? indexCreators(this.opts.side.creators, this.n) : null;
    for (let x = 0; x < this.ks.length; x++) {
      const k = this.ks[x];
      const ex = this.exposure[x];
      res[`coverage@${k}`] = coverage(ex);
      res[`novelty@${k}`] = this.noveltyCount[x] > 0 ? this.noveltySum[x] / this.noveltyCount[x] : null;
      res[`diversity@${k}`] = this.diversityCount[x] > 0 ? this.diversitySum[x] / this.diversityCount[x] : null;
      res[`gini_items@${k}`] = gini(ex);
      res[`gini_creators@${k}`] = creators ? gini(groupExposure(ex, creators.creatorOf, creators.count)) : null;
    }
  }
}

export interface ValidateOptions {
  /** Subsample at most this many validation users (seeded) for speed; default 3000. */
  maxUsers?: number;
  k?: number;
  blockUsers?: number;
}

/**
 * Validation NDCG@k / HR@k of a fitted model on ctx.validTargets with ctx.train as history: what models
 * call for early stopping and hyper-parameter choice. The user subsample depends only on ctx.seed.
 */
export async function validate(
  model: Recommender,
  ctx: Pick<FitContext, 'train' | 'validTargets' | 'seed'>,
  opts: ValidateOptions = {},
): Promise<Record<string, number>> {
  const q = validationQueries(ctx, opts.maxUsers ?? 3000);
  const k = opts.k ?? 10;
  const r = await evaluateQueries(model, q, { ks: [k], beyondAccuracy: false, blockUsers: opts.blockUsers });
  return { [`NDCG@${k}`]: r[`NDCG@${k}`] ?? 0, [`HR@${k}`]: r[`HR@${k}`] ?? 0, users: q.users.length };
}

/** The validation queries (seeded subsample of users with a validation target), built once per fit. */
export function validationQueries(ctx: Pick<FitContext, 'train' | 'validTargets' | 'seed'>, maxUsers: number): Queries {
  const v = ctx.validTargets;
  let m = 0;
  for (let u = 0; u < v.length; u++) if (v[u] >= 0) m++;
  let users = new Int32Array(m);
  m = 0;
  for (let u = 0; u < v.length; u++) if (v[u] >= 0) users[m++] = u;
  if (users.length > maxUsers) {
    new Rng(ctx.seed ^ 0x7a11d).shuffle(users);
    users = users.slice(0, maxUsers).sort();
  }
  const targetOffsets = new Int32Array(users.length + 1);
  const targets = new Int32Array(users.length);
  for (let t = 0; t < users.length; t++) {
    targets[t] = v[users[t]];
    targetOffsets[t + 1] = t + 1;
  }
  return { histories: ctx.train, users, targetOffsets, targets };
}

function sampleNegatives(
  u: number,
  hOff: Int32Array,
  hItems: Int32Array,
  targets: Int32Array,
  t0: number,
  t1: number,
  n: number,
  want: number,
  rng: Rng,
  stamp: Int32Array,
  chosen: Int32Array,
  out: Int32Array,
): number {
  let marked = 0;
  const mark = (i: number): void => {
    if (stamp[i] !== u) {
      stamp[i] = u;
      marked++;
    }
  };
  for (let p = hOff[u]; p < hOff[u + 1]; p++) mark(hItems[p]);
  for (let t = t0; t < t1; t++) mark(targets[t]);
  const available = n - marked;
  let m = 0;
  if (available <= want) {
    for (let i = 0; i < n; i++) if (stamp[i] !== u) out[m++] = i;
    return m;
  }
  while (m < want) {
    const i = rng.int(n);
    if (stamp[i] === u || chosen[i] === u) continue;
    chosen[i] = u;
    out[m++] = i;
  }
  return m;
}

function indexCreators(creators: (string | undefined)[], n: number): { creatorOf: Int32Array; count: number } {
  const ids = new Map<string, number>();
  const creatorOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const c = creators[i];
    if (c === undefined || c === '') continue;
    let id = ids.get(c);
    if (id === undefined) ids.set(c, (id = ids.size));
    creatorOf[i] = id;
  }
  return { creatorOf, count: ids.size };
}

export function checkKs(ks: readonly number[]): number[] {
  if (ks.length === 0) throw new ValidationError('at least one cut-off k is needed', [{ path: 'ks', message: 'empty' }]);
  const sorted = [...new Set(ks)].sort((a, b) => a - b);
  for (const k of sorted) {
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
      throw new ValidationError(`cut-off ${k} is not an integer in 1..${MAX_K}`, [{ path: 'ks', message: `bad k ${k}` }]);
    }
  }
  return sorted;
}
