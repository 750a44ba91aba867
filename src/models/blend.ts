/**
 * Score-level ensemble of trained recommenders (`--model blend`): the members are fitted one after the
 * other inside the shared time budget, then their per-user scores are standardised (z-scores over the
 * catalog, so a transformer's logits and a two-tower's cosines are on one scale) and summed with weights
 * chosen on the validation split. Two models that err differently — a self-attention sequence model and a
 * recency-pooled two-tower — rank the held-out item better together than either alone; which weights, if
 * any, is decided by validation NDCG@10 only, never by the test item.
 *
 * Budget: member k starts with `remaining × share_k / Σ shares of the members not yet fitted`, so time a
 * member leaves unused (early stopping) passes on to the next; by default the early-stopping two-tower
 * goes first and SASRec plans its cosine schedule over whatever is left.
 * Weights: greedy forward mixing — start from member 0, then for each next member pick α on a grid
 * (`combined ← (1−α)·combined + α·z(member)`) by validation NDCG@10 over the validation users. With two
 * members that is an exact grid search over the one free weight; α = 0 drops a member that does not help.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Tensor } from '../core/tensor.js';
import { parseModelParams } from './common.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export const BlendParams = z.strictObject({
  /** Member model names (any registered model except blend), fitted in this order. */
  members: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).min(2).max(8).default(['twotower', 'sasrec']),
  /** Relative share of the time budget per member (same length as members; default equal shares). */
  shares: z.array(z.number().positive()).optional(),
  /** Per-member hyper-parameter overrides, keyed by member name. */
  memberParams: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** Grid resolution for each mixing weight α (α ∈ {0, 1/g, …, 1}). */
  grid: z.number().int().min(1).max(100).default(20),
  /** Validation users used to choose the weights (0 = every user with a validation item). */
  validUsers: z.number().int().min(0).default(0),
  /** Users scored per block (memory: members × block × items floats). */
  blockUsers: z.number().int().min(1).max(4096).default(256),
});
export type BlendParams = z.infer<typeof BlendParams>;

/** Builds member recommenders by name (the model registry, injected to avoid an import cycle). */
export type MemberFactory = (name: string, params: Record<string, unknown>) => Model;
/** Loads a saved member by name (the model table's fromArtifacts, injected for the same reason). */
export type MemberLoader = (name: string, saved: SavedModel) => Model;

/** A blend artifact's config: its own parameters, the members in order, their mixing weights and configs. */
const BlendSaved = z.strictObject({
  params: z.record(z.string(), z.unknown()),
  members: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).min(1).max(8),
  mix: z.array(z.number().refine(Number.isFinite, 'must be finite')),
  memberConfigs: z.array(z.record(z.string(), z.unknown())),
});

/** Standardises each row of scores [rows, n] in place: (s − mean) / std (std 0 → all zeros). */
export function standardizeRows(scores: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const row = scores.subarray(r * n, (r + 1) * n);
    let sum = 0;
    let sq = 0;
    for (let j = 0; j < n; j++) {
      const v = row[j];
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const variance = Math.max(0, sq / n - mean * mean);
    const inv = variance > 1e-24 ? 1 / Math.sqrt(variance) : 0;
    for (let j = 0; j < n; j++) row[j] = (row[j] - mean) * inv;
  }
}

export class BlendRecommender implements Model {
  readonly name = 'blend';
  private members: Model[] = [];
  private memberNames: string[] = [];
  /** Final weight of each member's standardised score. */
  weights: Float64Array = new Float64Array(0);
  private buf: Float32Array | undefined;

  constructor(
    private readonly factory: MemberFactory,
    private readonly baseParams: Record<string, unknown> = {},
  ) {
    this.parse(baseParams);
  }

  private parse(params: Record<string, unknown>): BlendParams {
    const p = parseModelParams('blend', BlendParams, params);
    if (p.shares !== undefined && p.shares.length !== p.members.length) {
      throw new ValidationError('invalid blend parameters', [{ path: 'params.shares', message: `needs one share per member (${p.members.length})` }]);
    }
    const bad = p.members.find((m) => m === 'blend');
    if (bad) throw new ValidationError('invalid blend parameters', [{ path: 'params.members', message: 'a blend cannot contain a blend' }]);
    for (const name of Object.keys(p.memberParams)) {
      if (!p.members.includes(name)) throw new ValidationError('invalid blend parameters', [{ path: `params.memberParams.${name}`, message: 'not one of the members' }]);
    }
    return p;
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const p = this.parse({ ...this.baseParams, ...ctx.params });
    const started = Date.now();
    await this.dispose();
    // Build every member first so bad member parameters fail before any training.
    const members = p.members.map((name) => this.factory(name, p.memberParams[name] ?? {}));
    this.members = members;
    this.memberNames = [...p.members];
    const shares = p.shares ?? p.members.map(() => 1);
    const reports: (FitReport & { member: string })[] = [];
    for (let k = 0; k < members.length; k++) {
      let maxMinutes: number | undefined;
      if (ctx.maxMinutes !== undefined) {
        const remaining = ctx.maxMinutes - (Date.now() - started) / 60_000;
        const rest = shares.slice(k).reduce((a, b) => a + b, 0);
        maxMinutes = Math.max(0.05, (remaining * shares[k]) / rest);
      }
      const name = p.members[k];
      const rep = await members[k].fit({
        ...ctx,
        params: undefined, // the member's own overrides came through the factory
        maxMinutes,
        checkpointDir: ctx.checkpointDir ? join(ctx.checkpointDir, `${k}-${name}`) : undefined,
        onProgress: ctx.onProgress ? (pr) => ctx.onProgress?.({ ...pr, message: `${name}: ${pr.message ?? ''}` }) : undefined,
      });
      reports.push({ ...rep, member: name });
    }
    const chosen = await this.chooseWeights(ctx.train, ctx.validTargets, p, ctx.seed);
    return {
      params: {
        members: p.members,
        weights: Array.from(this.weights, (w) => Math.round(w * 1000) / 1000),
        memberReports: reports.map((r) => ({ member: r.member, params: r.params, epochs: r.epochs, valid: r.valid, trainSeconds: r.trainSeconds })),
        validCurve: chosen.curve,
      },
      valid: chosen.valid,
      trainSeconds: (Date.now() - started) / 1000,
    };
  }

  /** Member scores for a block of users, standardised: out[k] is [B, N]. */
  private async memberScores(histories: Sequences, users: Int32Array, out: Float32Array[]): Promise<void> {
    const N = histories.numItems;
    for (let k = 0; k < this.members.length; k++) {
      const dst = out[k].subarray(0, users.length * N);
      await this.members[k].scoreBatch(histories, users, dst);
      standardizeRows(dst, users.length, N);
    }
  }

  private async chooseWeights(
    train: Sequences,
    validTargets: Int32Array,
    p: BlendParams,
    seed: number,
  ): Promise<{ valid: Record<string, number>; curve: number[][] }> {
    const K = this.members.length;
    const N = train.numItems;
    let users: number[] = [];
    for (let u = 0; u < train.numUsers; u++) if (validTargets[u] >= 0 && train.offsets[u + 1] > train.offsets[u]) users.push(u);
    if (p.validUsers > 0 && users.length > p.validUsers) {
      const rng = new Rng(seed ^ 0x6b1e);
      for (let i = users.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [users[i], users[j]] = [users[j], users[i]];
      }
      users = users.slice(0, p.validUsers).sort((a, b) => a - b);
    }
    const G = p.grid;
    const weights = new Float64Array(K);
    weights[0] = 1;
    const curve: number[][] = [];
    const B = p.blockUsers;
    const per: Float32Array[] = Array.from({ length: K }, () => new Float32Array(B * N));
    const mix = new Float32Array(N);
    const seen = new Int32Array(N).fill(-1);
    let stamp = 0;
    let validNdcg = 0;
    let validHr = 0;
    // Greedy: fix members 0..k-1's weights, choose α_k; each step rescans the validation users.
    for (let k = 1; k < K; k++) {
      const sums = new Float64Array(G + 1);
      const hits = new Float64Array(G + 1);
      for (let b0 = 0; b0 < users.length; b0 += B) {
        const block = Int32Array.from(users.slice(b0, b0 + B));
        await this.memberScores(train, block, per);
        for (let b = 0; b < block.length; b++) {
          const u = block[b];
          const target = validTargets[u];
          for (let g = 0; g <= G; g++) {
            const alpha = g / G;
            mix.fill(0);
            for (let m = 0; m <= k; m++) {
              const w = m === k ? alpha : (1 - alpha) * weights[m];
              if (w === 0) continue;
              const row = per[m].subarray(b * N, (b + 1) * N);
              for (let j = 0; j < N; j++) mix[j] += w * row[j];
            }
            const rank = rankOf(mix, target, train, u, seen, stamp++);
            if (rank < 10) {
              sums[g] += 1 / Math.log2(rank + 2);
              hits[g]++;
            }
          }
        }
      }
      let bestG = 0;
      for (let g = 1; g <= G; g++) if (sums[g] > sums[bestG]) bestG = g;
      const alpha = bestG / G;
      for (let m = 0; m < k; m++) weights[m] *= 1 - alpha;
      weights[k] = alpha;
      const n = Math.max(1, users.length);
      for (let g = 0; g <= G; g++) curve.push([k, g / G, Math.round((sums[g] / n) * 1e4) / 1e4]);
      validNdcg = sums[bestG] / n;
      validHr = hits[bestG] / n;
    }
    this.weights = weights;
    return { valid: { 'NDCG@10': validNdcg, 'HR@10': validHr, users: users.length }, curve };
  }

  async scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): Promise<void> {
    if (this.members.length === 0) throw new Error('blend: fit() first');
    const N = histories.numItems;
    const B = userIxs.length;
    if (!this.buf || this.buf.length < B * N) this.buf = new Float32Array(B * N);
    const tmp = this.buf.subarray(0, B * N);
    out.fill(0, 0, B * N);
    for (let k = 0; k < this.members.length; k++) {
      const w = this.weights[k];
      if (w === 0) continue;
      await this.members[k].scoreBatch(histories, userIxs, tmp);
      standardizeRows(tmp, B, N);
      for (let j = 0; j < B * N; j++) out[j] += w * tmp[j];
    }
  }

  /** Members' artifacts side by side: member k's tensor t is saved as `m<k>.<t>`. */
  toArtifacts(): SavedModel {
    if (this.members.length === 0) throw new Error('blend: fit() first');
    const weights: Record<string, Tensor> = {};
    const memberConfigs: Record<string, unknown>[] = [];
    this.members.forEach((m, k) => {
      const saved = m.toArtifacts();
      memberConfigs.push(saved.config);
      for (const [t, v] of Object.entries(saved.weights)) weights[`m${k}.${t}`] = v;
    });
    return { config: { params: { ...this.baseParams }, members: this.memberNames, mix: Array.from(this.weights), memberConfigs }, weights };
  }

  static fromArtifacts(saved: SavedModel, factory: MemberFactory, load: MemberLoader): BlendRecommender {
    const c = parseModelParams('blend', BlendSaved, saved.config);
    if (c.mix.length !== c.members.length || c.memberConfigs.length !== c.members.length) {
      throw new ValidationError('blend artifact config is inconsistent', [{ path: 'config.mix', message: 'one weight and one config per member' }]);
    }
    const blend = new BlendRecommender(factory, c.params);
    blend.members = c.members.map((name, k) => {
      const prefix = `m${k}.`;
      const weights: Record<string, Tensor> = {};
      for (const [t, v] of Object.entries(saved.weights)) if (t.startsWith(prefix)) weights[t.slice(prefix.length)] = v;
      return load(name, { config: c.memberConfigs[k], weights });
    });
    blend.memberNames = c.members;
    blend.weights = Float64Array.from(c.mix);
    return blend;
  }

  async dispose(): Promise<void> {
    for (const m of this.members) await m.dispose?.();
    this.members = [];
  }
}

/**
 * Rank of target among the items the user has not consumed in train (items scoring strictly higher).
 * seen: [numItems] scratch stamps, stamp: a value not yet used in it.
 */
function rankOf(scores: Float32Array, target: number, train: Sequences, u: number, seen: Int32Array, stamp: number): number {
  const ts = scores[target];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) if (scores[j] > ts) rank++;
  // Consumed items never rank: take back those that were counted (each once, repeats included).
  for (let i = train.offsets[u]; i < train.offsets[u + 1]; i++) {
    const it = train.items[i];
    if (seen[it] === stamp) continue;
    seen[it] = stamp;
    if (it !== target && scores[it] > ts) rank--;
  }
  return rank;
}
