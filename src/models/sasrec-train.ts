/**
 * Training loop, batching, validation and checkpoints for SASRec (model math in sasrec.ts), exposed as a
 * `Recommender` for the eval harness and the train command.
 *
 * Recipe (defaults): each epoch visits every user with ≥ 2 training items once in a seeded random order,
 * in batches of 128; a user's example is its newest maxLen training items, predicting the next item at
 * every position (full softmax, see sasrec.ts). AdamW (β2 0.98), linear warm-up then cosine decay of the
 * learning rate over the epochs that fit the time budget (estimated after the first epoch), global-norm
 * gradient clipping. After every epoch, NDCG@10 on the validation item (full ranking, history excluded,
 * a fixed seeded subsample of users) decides early stopping; the best parameters are kept and restored.
 *
 * Checkpoints (when ctx.checkpointDir is set) hold parameters, optimiser moments, best parameters and the
 * loop state; a run with the same config resumes where the last one stopped. Shuffles and dropout masks
 * are derived from (seed, epoch, step), so a resumed run continues the same random streams.
 */
import { availableParallelism } from 'node:os';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Sequences } from '../core/dataset.js';
import { Rng } from '../core/rng.js';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import { Kernels } from './kernels/index.js';
import { AdamW, lrAt } from './optim.js';
import { Batch, SasrecConfig, SasrecModel, countParams } from './sasrec.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export const SasrecTrainConfig = z.object({
  batchSize: z.number().int().min(1).max(4096).default(128),
  lr: z.number().positive().max(1).default(3e-3),
  /** Warm-up steps of linear learning-rate increase. */
  warmupSteps: z.number().int().min(0).default(100),
  /** Final learning rate as a fraction of lr at the end of the cosine decay. */
  minLrFrac: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).max(1).default(0),
  /** Global gradient-norm clip (0 = off). */
  clipNorm: z.number().min(0).default(5),
  maxEpochs: z.number().int().min(1).max(100_000).default(400),
  /** Stop after this many validations without a better NDCG@10. */
  patience: z.number().int().min(1).default(8),
  /** Validate every this many epochs. */
  evalEvery: z.number().int().min(1).default(1),
  /** Users in the fixed validation subsample (full ranking each). */
  validUsers: z.number().int().min(1).default(6040),
  /** Worker threads for big matmuls (defaults to ctx.threads, else the machine's cores). */
  threads: z.number().int().min(1).max(64).optional(),
});
export type SasrecTrainConfig = z.infer<typeof SasrecTrainConfig>;

export const SasrecParams = SasrecConfig.extend(SasrecTrainConfig.shape).strict();
export type SasrecParams = z.infer<typeof SasrecParams>;

export function parseSasrecParams(raw: Record<string, unknown> | undefined): SasrecParams {
  const r = SasrecParams.safeParse(raw ?? {});
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues, 'params');
    throw new ValidationError(`invalid sasrec params: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

/** Users with at least one (input, next item) pair. */
export function trainableUsers(train: Sequences): Int32Array {
  const users: number[] = [];
  for (let u = 0; u < train.numUsers; u++) if (train.offsets[u + 1] - train.offsets[u] >= 2) users.push(u);
  return Int32Array.from(users);
}

export interface EpochArgs {
  model: SasrecModel;
  opt: AdamW;
  batch: Batch;
  train: Sequences;
  /** Scratch order buffer, overwritten with a shuffle of allUsers. */
  users: Int32Array;
  allUsers: Int32Array;
  epoch: number;
  seed: number;
  params: SasrecTrainConfig;
  /** Optimiser steps taken before this epoch (drives the learning-rate schedule). */
  firstStep: number;
  plannedSteps: number;
  /** Checked after every step; true ends the epoch early. */
  outOfTime?: () => boolean;
  /** Stop after this many steps (benchmarks). */
  maxSteps?: number;
}

/**
 * One pass over the users in a (seed, epoch)-determined order: each user's newest maxLen training items
 * predict their successors. Returns the summed mean-batch losses and the number of steps taken.
 */
export function trainEpoch(a: EpochArgs): { lossSum: number; lossN: number; outOfTime: boolean; sequences: number } {
  const { model, opt, batch, train, users, params } = a;
  const rng = new Rng(streamSeed(a.seed, a.epoch, -1));
  users.set(a.allUsers); // each epoch's order depends only on (seed, epoch), so resumes match
  rng.shuffle(users);
  const stepsPerEpoch = Math.ceil(users.length / params.batchSize);
  const steps = Math.min(stepsPerEpoch, a.maxSteps ?? Infinity);
  let lossSum = 0;
  let lossN = 0;
  let sequences = 0;
  for (let s = 0; s < steps; s++) {
    batch.clear();
    const end = Math.min(users.length, (s + 1) * params.batchSize);
    for (let i = s * params.batchSize; i < end; i++) {
      const u = users[i];
      const o = train.offsets[u];
      const m = train.offsets[u + 1] - o;
      batch.push(train.items.subarray(o, o + m), 0, m - 1, true);
    }
    sequences += batch.B;
    model.zeroGrad();
    const seed = streamSeed(a.seed, a.epoch, s);
    model.forward(batch, true, seed);
    const loss = model.lossAndBackward(batch, true, seed);
    const lr = lrAt(a.firstStep + s, params.lr, params.warmupSteps, a.plannedSteps, params.minLrFrac);
    opt.update(lr, params.clipNorm);
    lossSum += loss;
    lossN++;
    if (a.outOfTime?.()) return { lossSum, lossN, outOfTime: true, sequences };
  }
  return { lossSum, lossN, outOfTime: false, sequences };
}

/** Salt for per-(epoch, step) random streams. */
function streamSeed(seed: number, epoch: number, step: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35)) >>> 0;
}

export interface ValidMetrics {
  'NDCG@10': number;
  'HR@10': number;
  users: number;
}

const CKPT_FILE = 'sasrec.ckpt';
const CKPT_MAGIC = 'tastemaker-sasrec-v1';

interface LoopState {
  epoch: number;
  step: number;
  plannedSteps: number;
  bestNdcg: number;
  bestEpoch: number;
  badEvals: number;
  history: { epoch: number; minutes: number; loss: number; 'NDCG@10': number; 'HR@10': number }[];
  trainSeconds: number;
}

export class SasrecRecommender implements Model {
  readonly name = 'sasrec';
  private model: SasrecModel | undefined;
  private kernels: Kernels | undefined;
  private batch: Batch | undefined;
  private scoreBuf: Float32Array | undefined;
  /** Hyper-parameters of the last fit (or of the loaded artifact). */
  private fitParams: SasrecParams | undefined;
  /** Validation/learning curve of the last fit: one entry per validation. */
  history: LoopState['history'] = [];

  /** params: hyper-parameter overrides (SasrecParams); ctx.params passed to fit override these again. */
  constructor(private readonly baseParams: Record<string, unknown> = {}) {
    parseSasrecParams(baseParams);
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const params = parseSasrecParams({ ...this.baseParams, ...ctx.params });
    this.fitParams = params;
    const train = ctx.train;
    if (ctx.validTargets.length !== train.numUsers) {
      throw new ValidationError('validTargets must have one entry per user', [{ path: 'validTargets', message: `length ${ctx.validTargets.length} != ${train.numUsers}` }]);
    }
    const started = Date.now();
    const budgetMs = ctx.maxMinutes !== undefined ? ctx.maxMinutes * 60_000 : Infinity;
    const threads = params.threads ?? ctx.threads ?? availableParallelism();
    await this.dispose();
    const kernels = new Kernels({ threads });
    this.kernels = kernels;
    const cfg = SasrecConfig.parse(pickModelConfig(params));
    const model = new SasrecModel(cfg, train.numItems, { kernels, maxBatch: params.batchSize, seed: ctx.seed });
    this.model = model;
    const warmStart = ctx.init ? (warmStartFrom(ctx.init, model, cfg) ? 'warm' : 'cold') : undefined;
    const batch = new Batch(kernels, params.batchSize, cfg.maxLen);
    this.batch = batch;
    const opt = new AdamW(kernels, model.paramRefs, { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: params.weightDecay });

    const users = trainableUsers(train);
    if (users.length === 0) throw new ValidationError('no user has 2 or more training items', [{ path: 'train', message: 'too short' }]);
    const userOrder = Int32Array.from(users);
    const stepsPerEpoch = Math.ceil(users.length / params.batchSize);
    const validSample = sampleValidUsers(train, ctx.validTargets, params.validUsers, ctx.seed);

    const state: LoopState = {
      epoch: 0, step: 0, plannedSteps: params.maxEpochs * stepsPerEpoch, bestNdcg: -1, bestEpoch: -1,
      badEvals: 0, history: [], trainSeconds: 0,
    };
    const best = new Float32Array(model.paramBuf.length);
    best.set(model.paramBuf);
    const ckptPath = ctx.checkpointDir ? join(ctx.checkpointDir, CKPT_FILE) : undefined;
    const ckptKey = JSON.stringify({ cfg, params: { ...params, threads: undefined, maxEpochs: undefined, patience: undefined }, numItems: train.numItems, numUsers: train.numUsers, seed: ctx.seed });
    if (ckptPath && existsSync(ckptPath)) {
      const resumed = await loadCheckpoint(ckptPath, ckptKey, model, opt, best);
      if (resumed) Object.assign(state, resumed);
    }
    const priorSeconds = state.trainSeconds;
    const elapsedMs = (): number => Date.now() - started + priorSeconds * 1000;

    let stopReason = 'maxEpochs';
    while (state.epoch < params.maxEpochs) {
      const epochStart = Date.now();
      const { lossSum, lossN, outOfTime } = trainEpoch({
        model, opt, batch, train, users: userOrder, allUsers: users, epoch: state.epoch, seed: ctx.seed, params,
        firstStep: state.step, plannedSteps: state.plannedSteps, outOfTime: () => elapsedMs() > budgetMs,
      });
      state.step += lossN;
      state.epoch++;
      const last = outOfTime || state.epoch >= params.maxEpochs;
      if (state.epoch % params.evalEvery === 0 || last) {
        const v = this.validate(train, ctx.validTargets, validSample);
        const minutes = elapsedMs() / 60_000;
        state.history.push({ epoch: state.epoch, minutes, loss: lossSum / Math.max(1, lossN), 'NDCG@10': v['NDCG@10'], 'HR@10': v['HR@10'] });
        if (v['NDCG@10'] > state.bestNdcg) {
          state.bestNdcg = v['NDCG@10'];
          state.bestEpoch = state.epoch;
          state.badEvals = 0;
          best.set(model.paramBuf);
        } else {
          state.badEvals++;
        }
        ctx.onProgress?.({
          epoch: state.epoch, step: state.step, loss: lossSum / Math.max(1, lossN),
          valid: { 'NDCG@10': v['NDCG@10'], 'HR@10': v['HR@10'] }, elapsedSeconds: elapsedMs() / 1000,
          message: `epoch ${state.epoch} loss ${(lossSum / Math.max(1, lossN)).toFixed(4)} valid NDCG@10 ${v['NDCG@10'].toFixed(4)} HR@10 ${v['HR@10'].toFixed(4)}`,
        });
      }
      if (state.epoch === 1 && Number.isFinite(budgetMs)) {
        // Plan the cosine decay over the epochs that fit in the budget (validation time included).
        const epochMs = Date.now() - epochStart;
        const fit = Math.max(1, Math.floor(budgetMs / Math.max(1, epochMs)));
        state.plannedSteps = Math.min(params.maxEpochs, fit) * stepsPerEpoch;
      }
      state.trainSeconds = elapsedMs() / 1000;
      if (ckptPath) await saveCheckpoint(ckptPath, ckptKey, model, opt, best, state);
      if (outOfTime) {
        stopReason = 'maxMinutes';
        break;
      }
      if (state.badEvals >= params.patience) {
        stopReason = 'earlyStopping';
        break;
      }
    }
    model.paramBuf.set(best);
    model.syncScoring();
    this.history = state.history;
    const bestEntry = state.history.find((h) => h.epoch === state.bestEpoch);
    return {
      params: {
        ...params, threads, stopReason, bestEpoch: state.bestEpoch,
        // Learning curve: [minutes, epoch, train loss, valid NDCG@10, valid HR@10] per validation.
        curve: state.history.map((h) => [round(h.minutes, 2), h.epoch, round(h.loss, 4), round(h['NDCG@10'], 4), round(h['HR@10'], 4)]),
      },
      epochs: state.epoch,
      valid: bestEntry ? { 'NDCG@10': bestEntry['NDCG@10'], 'HR@10': bestEntry['HR@10'] } : undefined,
      trainSeconds: elapsedMs() / 1000,
      ...(warmStart ? { warmStart } : {}),
    };
  }

  /** Full-ranking NDCG@10 / HR@10 of the validation item, the user's training items excluded. */
  validate(train: Sequences, validTargets: Int32Array, users: Int32Array): ValidMetrics {
    const model = this.requireModel();
    const N = train.numItems;
    const maxB = model.maxB;
    const scores = this.scores(maxB * N);
    let ndcg = 0;
    let hits = 0;
    for (let b0 = 0; b0 < users.length; b0 += maxB) {
      const ids = users.subarray(b0, Math.min(users.length, b0 + maxB));
      this.scoreUsers(train, ids, scores);
      for (let b = 0; b < ids.length; b++) {
        const u = ids[b];
        const row = scores.subarray(b * N, (b + 1) * N);
        const target = validTargets[u];
        const ts = row[target];
        for (let i = train.offsets[u]; i < train.offsets[u + 1]; i++) row[train.items[i]] = -Infinity;
        row[target] = ts;
        let rank = 0;
        for (let j = 0; j < N; j++) if (row[j] > ts) rank++;
        if (rank < 10) {
          hits++;
          ndcg += 1 / Math.log2(rank + 2);
        }
      }
    }
    const n = Math.max(1, users.length);
    return { 'NDCG@10': ndcg / n, 'HR@10': hits / n, users: users.length };
  }

  scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): void {
    const model = this.requireModel();
    const N = model.numItems;
    if (histories.numItems !== N) {
      throw new ValidationError(`histories have ${histories.numItems} items, model has ${N}`, [{ path: 'histories.numItems', message: 'mismatch' }]);
    }
    if (out.length < userIxs.length * N) throw new RangeError(`out holds ${out.length} < ${userIxs.length}×${N}`);
    const maxB = model.maxB;
    const buf = this.scores(maxB * N);
    for (let b0 = 0; b0 < userIxs.length; b0 += maxB) {
      const ids = userIxs.subarray(b0, Math.min(userIxs.length, b0 + maxB));
      this.scoreUsers(histories, ids, buf);
      out.set(buf.subarray(0, ids.length * N), b0 * N);
    }
  }

  /** Scores [ids.length, N] into out; users with an empty history get all-zero rows. */
  private scoreUsers(seqs: Sequences, ids: Int32Array, out: Float32Array): void {
    const model = this.requireModel();
    const batch = this.batch!;
    const N = model.numItems;
    batch.clear();
    const rowOf = new Int32Array(ids.length).fill(-1);
    for (let b = 0; b < ids.length; b++) {
      const u = ids[b];
      if (u < 0 || u >= seqs.numUsers) throw new ValidationError(`userIx ${u} out of range`, [{ path: `userIxs[${b}]`, message: 'out of range' }]);
      const o = seqs.offsets[u];
      const m = seqs.offsets[u + 1] - o;
      if (m === 0) continue;
      rowOf[b] = batch.B;
      batch.push(seqs.items.subarray(o, o + m), 0, m, false);
    }
    const tmp = this.scoresTmp(batch.B * N);
    if (batch.B > 0) model.scoreLast(batch, tmp);
    for (let b = ids.length - 1; b >= 0; b--) {
      const dst = out.subarray(b * N, (b + 1) * N);
      if (rowOf[b] < 0) dst.fill(0);
      else dst.set(tmp.subarray(rowOf[b] * N, (rowOf[b] + 1) * N));
    }
  }

  private tmpBuf: Float32Array | undefined;
  private scoresTmp(n: number): Float32Array {
    if (!this.tmpBuf || this.tmpBuf.length < n) this.tmpBuf = new Float32Array(n);
    return this.tmpBuf;
  }
  private scores(n: number): Float32Array {
    if (!this.scoreBuf || this.scoreBuf.length < n) this.scoreBuf = new Float32Array(n);
    return this.scoreBuf;
  }

  private requireModel(): SasrecModel {
    if (!this.model) throw new ValidationError('sasrec model is not trained; call fit first', [{ path: 'model', message: 'not fitted' }]);
    return this.model;
  }

  /** The trained model (for benchmarks and serving). */
  get trained(): SasrecModel | undefined {
    return this.model;
  }

  /**
   * What the registry persists: the hyper-parameters (model + training, validated again on load), the
   * catalogue size, and all parameters as one Float32 tensor in the layout of sasrec.ts (the config fixes
   * it). The item id list the rows refer to is the caller's (the train job stores it beside).
   */
  toArtifacts(): { config: SasrecParams & { numItems: number }; weights: { params: Float32Array } } {
    const model = this.requireModel();
    const params = this.fitParams ?? parseSasrecParams(this.baseParams);
    // slice(): a plain copy out of the shared kernel memory.
    return { config: { ...params, ...model.cfg, threads: undefined, numItems: model.numItems }, weights: { params: model.paramBuf.slice() } };
  }

  /**
   * Rebuilds a model from toArtifacts() output for scoring (no gradients, no optimiser state).
   * opts.maxBatch: sequences per scoreBatch step (1 for single-sequence serving); opts.threads: matmul
   * threads (1 = synchronous, no workers: what a request path wants).
   */
  static fromArtifacts(config: Record<string, unknown>, weights: Record<string, Float32Array | Int32Array>, opts: { maxBatch?: number; threads?: number } = {}): SasrecRecommender {
    const { numItems, ...rest } = config;
    if (typeof numItems !== 'number' || !Number.isInteger(numItems) || numItems < 2) {
      throw new ValidationError('sasrec artifact config has no valid numItems', [{ path: 'config.numItems', message: `got ${String(numItems)}` }]);
    }
    const params = parseSasrecParams(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null)));
    const cfg = SasrecConfig.parse(pickModelConfig(params));
    const w = weights.params;
    const expected = countParams(cfg, numItems);
    if (!(w instanceof Float32Array) || w.length !== expected) {
      throw new ValidationError(`sasrec artifact weights do not match its config: expected ${expected} floats`, [
        { path: 'weights.params', message: w ? `got ${w.length} ${w.constructor.name} values` : 'missing' },
      ]);
    }
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i])) throw new ValidationError(`sasrec artifact weight ${i} is ${w[i]}`, [{ path: `weights.params[${i}]`, message: 'not finite' }]);
    }
    const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? params.batchSize));
    const rec = new SasrecRecommender(params);
    const bytes = 4 * (2 * numItems * cfg.dim + maxBatch * numItems + expected) + (8 << 20);
    const kernels = new Kernels({ threads: opts.threads ?? 1, initialBytes: bytes });
    rec.kernels = kernels;
    rec.fitParams = params;
    const model = new SasrecModel(cfg, numItems, { kernels, maxBatch, seed: 0, inference: true });
    model.paramBuf.set(w);
    model.syncScoring();
    rec.model = model;
    rec.batch = new Batch(kernels, maxBatch, cfg.maxLen);
    return rec;
  }

  async dispose(): Promise<void> {
    await this.kernels?.dispose();
    this.kernels = undefined;
    this.model = undefined;
    this.batch = undefined;
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Copies a previous version's parameters into a fresh model when they have the same architecture and
 * catalogue size (one flat tensor in sasrec.ts's layout, so equal config + numItems = equal layout).
 * The optimiser state and learning-rate schedule start over: fine-tuning, not resuming.
 */
function warmStartFrom(init: SavedModel, model: SasrecModel, cfg: SasrecConfig): boolean {
  const { numItems, ...rest } = init.config;
  if (numItems !== model.numItems) return false;
  let prev: SasrecConfig;
  try {
    prev = pickModelConfig(parseSasrecParams(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null))));
  } catch {
    return false; // saved by another version of this file: start cold rather than fail the round
  }
  if (JSON.stringify(prev) !== JSON.stringify(cfg)) return false;
  const w = init.weights.params;
  if (!(w instanceof Float32Array) || w.length !== model.paramBuf.length) return false;
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) return false;
  model.paramBuf.set(w);
  model.syncScoring();
  return true;
}

function pickModelConfig(p: SasrecParams): SasrecConfig {
  return {
    maxLen: p.maxLen, dim: p.dim, blocks: p.blocks, heads: p.heads, ffnMult: p.ffnMult,
    activation: p.activation, dropout: p.dropout, scaleEmbeddings: p.scaleEmbeddings,
    loss: p.loss, negatives: p.negatives,
  };
}

/** A fixed, seeded subsample of users that have a validation target and a non-empty history. */
export function sampleValidUsers(train: Sequences, validTargets: Int32Array, max: number, seed: number): Int32Array {
  const eligible: number[] = [];
  for (let u = 0; u < train.numUsers; u++) {
    if (validTargets[u] >= 0 && train.offsets[u + 1] > train.offsets[u]) eligible.push(u);
  }
  const arr = Int32Array.from(eligible);
  if (arr.length <= max) return arr;
  new Rng(seed ^ 0x7a11d).shuffle(arr);
  return arr.slice(0, max).sort();
}

// ---------------------------------------------------------------------------------------------------
// Checkpoints: [u32 header length][JSON header][params][adam m...][adam v...][best params], f32 LE.
// ---------------------------------------------------------------------------------------------------

async function saveCheckpoint(path: string, key: string, model: SasrecModel, opt: AdamW, best: Float32Array, state: LoopState): Promise<void> {
  const header = Buffer.from(JSON.stringify({ magic: CKPT_MAGIC, key, state, adamStep: opt.step }), 'utf8');
  const n = model.paramBuf.length;
  const body = new Float32Array(4 * n);
  body.set(model.paramBuf, 0);
  let off = n;
  for (const m of opt.m) {
    body.set(m, off);
    off += m.length;
  }
  for (const v of opt.v) {
    body.set(v, off);
    off += v.length;
  }
  body.set(best, 3 * n);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length, 0);
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, Buffer.concat([len, header, Buffer.from(body.buffer, body.byteOffset, body.byteLength)]));
  await rename(tmp, path);
}

async function loadCheckpoint(path: string, key: string, model: SasrecModel, opt: AdamW, best: Float32Array): Promise<LoopState | undefined> {
  const buf = await readFile(path);
  const hlen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as { magic: string; key: string; state: LoopState; adamStep: number };
  if (header.magic !== CKPT_MAGIC || header.key !== key) return undefined;
  const n = model.paramBuf.length;
  const bodyBytes = buf.subarray(4 + hlen);
  if (bodyBytes.length !== 16 * n) return undefined;
  const body = new Float32Array(4 * n);
  new Uint8Array(body.buffer).set(bodyBytes);
  model.paramBuf.set(body.subarray(0, n));
  let off = n;
  for (const m of opt.m) {
    m.set(body.subarray(off, off + m.length));
    off += m.length;
  }
  for (const v of opt.v) {
    v.set(body.subarray(off, off + v.length));
    off += v.length;
  }
  best.set(body.subarray(3 * n, 4 * n));
  opt.step = header.adamStep;
  return header.state;
}
