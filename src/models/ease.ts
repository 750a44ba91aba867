/**
 * EASE^R — Embarrassingly Shallow Autoencoder (Steck, "Embarrassingly Shallow Autoencoders for Sparse
 * Data", WWW 2019), eq. 8 closed form:
 *   G = XᵀX + λI,  P = G⁻¹,  B = I − P · diag(1/diag(P))   i.e. B[i][j] = −P[i][j] / P[j][j], B[j][j] = 0
 *   score(u) = x_u · B
 * X is the binary user-item train matrix (repeats counted once). The only hyper-parameter λ is chosen on
 * validation NDCG@10: a hill-climb over the log grid {50, 100, 200, 500, 1000, 2000} that starts at 500
 * and walks toward the better neighbour while validation improves (each step costs one n×n inverse, so
 * the usual 3 steps instead of 6 keep ML-1M inside a minute). Deviation from the paper: none in the math;
 * scores use the given history (for a test query, train + the validation item).
 */
import { z } from 'zod';
import type { Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { validate } from '../eval/evaluate.js';
import { distinctSortedRows, parseModelParams, savedTensor } from './common.js';
import { availableParallelism } from 'node:os';
import { spdInverseInPlace } from './linalg.js';
import { LinalgPool } from './linalg-pool.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export const EaseParams = z
  .object({
    /** Fixed λ; skips the validation search. */
    lambda: z.number().positive().optional(),
    /** λ grid for the validation search (ascending). */
    grid: z.array(z.number().positive()).min(1).max(20).optional(),
    /** Users subsampled for validation during the search. */
    validUsers: z.number().int().min(1).max(1_000_000).default(2000),
    /** Threads for the inverse (default: FitContext.threads, else the machine's cores). */
    threads: z.number().int().min(1).max(8).optional(),
  })
  .strict();
export type EaseParams = z.infer<typeof EaseParams>;

export const DEFAULT_LAMBDA_GRID = [50, 100, 200, 500, 1000, 2000];
const START_LAMBDA = 500;
/** Dense n×n Float64 work: 12k items ≈ 1.2 GB per matrix; beyond that use itemknn. */
export const EASE_MAX_ITEMS = 12_000;

export class EaseModel implements Model {
  readonly name = 'ease';
  private readonly params: EaseParams;
  private n = 0;
  /** b: [numItems, numItems] row-major Float32, B[h][j] = weight of history item h for item j. */
  private b: Float32Array = new Float32Array(0);

  constructor(params: Record<string, unknown> = {}) {
    this.params = parseModelParams('ease', EaseParams, params);
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    const params = ctx.params ? parseModelParams('ease', EaseParams, { ...this.params, ...ctx.params }) : this.params;
    const n = ctx.train.numItems;
    if (n > EASE_MAX_ITEMS) {
      throw new ValidationError(`ease needs a dense ${n}×${n} matrix; limit is ${EASE_MAX_ITEMS} items`, [
        { path: 'model', message: 'use itemknn or bpr for large catalogs' },
      ]);
    }
    this.n = n;
    const gram = gramMatrix(ctx.train); // [n, n]
    const deadline = ctx.maxMinutes ? t0 + ctx.maxMinutes * 60_000 : Infinity;
    const pool = await LinalgPool.create(ctx.threads ?? params.threads ?? availableParallelism());
    const work = LinalgPool.sharedMatrix(n); // [n, n] reused for every λ
    try {
      return await this.search(ctx, params, gram, work, pool, t0, deadline);
    } finally {
      await pool.dispose();
    }
  }

  private async search(
    ctx: FitContext,
    params: EaseParams,
    gram: Float64Array,
    work: Float64Array,
    pool: LinalgPool,
    t0: number,
    deadline: number,
  ): Promise<FitReport> {
    const n = this.n;
    if (params.lambda !== undefined) {
      this.b = await weightsFor(gram, n, params.lambda, pool, work);
      return { params: { lambda: params.lambda }, trainSeconds: (performance.now() - t0) / 1000 };
    }

    const grid = [...(params.grid ?? DEFAULT_LAMBDA_GRID)].sort((a, b) => a - b);
    const tried = new Map<number, number>(); // grid index → validation NDCG@10
    let bestIx = -1;
    let bestB: Float32Array = new Float32Array(0);
    const tryIx = async (ix: number): Promise<number> => {
      const cached = tried.get(ix);
      if (cached !== undefined) return cached;
      this.b = await weightsFor(gram, n, grid[ix], pool, work);
      const v = (await validate(this, ctx, { maxUsers: params.validUsers }))['NDCG@10'];
      tried.set(ix, v);
      ctx.onProgress?.({ elapsedSeconds: (performance.now() - t0) / 1000, valid: { 'NDCG@10': v }, message: `lambda=${grid[ix]}` });
      if (bestIx < 0 || v > (tried.get(bestIx) ?? -1)) {
        bestIx = ix;
        bestB = this.b;
      }
      return v;
    };
    // Hill-climb: up while validation improves; if the first step up does not, down instead.
    let cur = nearestIndex(grid, START_LAMBDA);
    await tryIx(cur);
    let moved = false;
    while (cur + 1 < grid.length && performance.now() < deadline && (await tryIx(cur + 1)) > (await tryIx(cur))) {
      cur++;
      moved = true;
    }
    if (!moved) {
      while (cur > 0 && performance.now() < deadline && (await tryIx(cur - 1)) > (await tryIx(cur))) cur--;
    }
    this.b = bestB;
    const valid: Record<string, number> = {};
    for (const [i, v] of tried) valid[`NDCG@10@lambda=${grid[i]}`] = v;
    return {
      params: { lambda: grid[bestIx], searched: [...tried.keys()].sort((a, b) => a - b).map((i) => grid[i]) },
      valid: { 'NDCG@10': tried.get(bestIx) ?? 0, ...valid },
      trainSeconds: (performance.now() - t0) / 1000,
    };
  }

  toArtifacts(): SavedModel {
    return { config: { params: { ...this.params }, n: this.n }, weights: { b: this.b.slice() } };
  }

  static fromArtifacts(saved: SavedModel): EaseModel {
    const c = parseModelParams('ease', z.strictObject({ params: z.record(z.string(), z.unknown()), n: z.number().int().min(0).max(EASE_MAX_ITEMS) }), saved.config);
    const m = new EaseModel(c.params);
    m.n = c.n;
    m.b = savedTensor('ease', saved.weights, 'b', 'f32', c.n * c.n).slice();
    return m;
  }

  dispose(): void {}

  /** out[r, :] = Σ_{h ∈ history(u_r)} B[h, :]. */
  scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): void {
    const n = this.n;
    const b = this.b;
    const { offsets, items } = histories;
    for (let r = 0; r < userIxs.length; r++) {
      const u = userIxs[r];
      const off = r * n;
      out.fill(0, off, off + n);
      const end = offsets[u + 1];
      let p = offsets[u];
      // Four history rows per pass: one load/store of the output row per four B rows.
      for (; p + 4 <= end; p += 4) {
        const h0 = items[p] * n;
        const h1 = items[p + 1] * n;
        const h2 = items[p + 2] * n;
        const h3 = items[p + 3] * n;
        for (let j = 0; j < n; j++) out[off + j] += b[h0 + j] + b[h1 + j] + (b[h2 + j] + b[h3 + j]);
      }
      for (; p < end; p++) {
        const h = items[p] * n;
        for (let j = 0; j < n; j++) out[off + j] += b[h + j];
      }
    }
  }
}

/** G = XᵀX over distinct user-item pairs: [n, n] Float64 (upper triangle accumulated, then mirrored). */
export function gramMatrix(train: Sequences): Float64Array {
  const n = train.numItems;
  const rows = distinctSortedRows(train.offsets, train.items, n);
  const g = new Float64Array(n * n);
  for (let u = 0; u + 1 < rows.offsets.length; u++) {
    const s = rows.offsets[u];
    const e = rows.offsets[u + 1];
    for (let x = s; x < e; x++) {
      const ra = rows.items[x] * n;
      for (let y = x; y < e; y++) g[ra + rows.items[y]] += 1; // items ascending → upper triangle
    }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) g[j * n + i] = g[i * n + j];
  return g;
}

/** B for one λ: [n, n] Float32 with zero diagonal. work: [n, n] scratch (shared memory for threads). */
export async function weightsFor(gram: Float64Array, n: number, lambda: number, pool?: LinalgPool, work?: Float64Array): Promise<Float32Array> {
  const p = work ?? new Float64Array(n * n);
  p.set(gram);
  for (let i = 0; i < n; i++) p[i * n + i] += lambda;
  if (pool) await pool.spdInverse(p, n);
  else spdInverseInPlace(p, n);
  const b = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < n; j++) b[ri + j] = i === j ? 0 : -p[ri + j] / p[j * n + j];
  }
  return b;
}

function nearestIndex(grid: number[], v: number): number {
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (Math.abs(Math.log(grid[i] / v)) < Math.abs(Math.log(grid[best] / v))) best = i;
  return best;
}
