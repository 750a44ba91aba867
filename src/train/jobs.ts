/**
 * The trainer's job table: one job per model kind the engine serves. It is built from the model table —
 * every model registered with `served: true` (two-tower, SASRec, any future one) gets the generic
 * fit → register → activate job — then the served blend of those (blend.ts: its weights are chosen over
 * the members just trained) and the ranker (ranker.ts: it learns to re-order the pools the active models
 * produce, so it comes last; both need an engine). The trainer,
 * `train --all` and the config's `trainer.models` check all go through `trainJobs()`, so a new served
 * model is retrained without touching this file.
 */
import type { EventWeights } from '../core/events.js';
import type { EngineConfigInput } from '../engine/index.js';
import { modelNames, parseModelParams, servedModelNames, type FitProgress } from '../models/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import type { TrainingData } from './data.js';
import { trainFromStore } from './fit.js';
import { RankerParams, trainRankerFromStore } from './ranker.js';
import { trainBlendFromStore } from './blend.js';

/** What every job reports (the fit job and the ranker job add their own fields). */
export interface JobSummary {
  model: string;
  version: string;
  activated: boolean;
  reason?: string;
  'valid.NDCG@10': number;
  train_seconds: number;
  warmStart?: 'warm' | 'cold';
}

export interface JobContext {
  store: Store;
  registry: ModelRegistry;
  /** This job's share of the round's budget (undefined: the model's own stopping rule only). */
  maxMinutes?: number;
  /** Start from the active version's weights where supported (default true). */
  warmStart?: boolean;
  seed: number;
  eventWeights: EventWeights;
  engineConfig: EngineConfigInput;
  /** Hyper-parameter overrides for this model (config `trainer.params.<model>`). */
  params?: Record<string, unknown>;
  threads?: number;
  /** The round's training sequences, loaded on first use and shared by the sequence models. */
  data: () => Promise<TrainingData>;
  onProgress?: (p: FitProgress) => void;
  /** Progress lines of jobs that report in words (the blend job). */
  log?: (m: string) => void;
}

export interface TrainJob {
  name: string;
  /** Whether the job starts from the active version's weights (when shapes match) or always cold. */
  warmStart: boolean;
  /**
   * A light job (no model fit: it mixes or re-scores what the fits produced) needs about this long at
   * most; a round reserves only this much of its share for it while the heavy fits before it run, so its
   * unused share is not left idle at the end of the round. Undefined: a fit, whose share is its budget.
   */
  reserveMinutes?: number;
  run(ctx: JobContext): Promise<JobSummary>;
}

/** The served mix of the active two-tower and SASRec (not the offline `blend` model of the table). */
const BLEND_JOB: TrainJob = {
  name: 'blend',
  warmStart: false,
  reserveMinutes: 2,
  run: async (ctx) => {
    const s = await trainBlendFromStore(ctx.store, ctx.registry, { seed: ctx.seed, eventWeights: ctx.eventWeights, log: ctx.log });
    return { ...s, version: s.version ?? '' };
  },
};

const RANKER_JOB: TrainJob = {
  name: 'ranker',
  warmStart: false,
  reserveMinutes: 3,
  run: (ctx) =>
    trainRankerFromStore(ctx.store, ctx.registry, {
      engineConfig: { ...ctx.engineConfig, eventWeights: ctx.eventWeights },
      seed: ctx.seed,
      ...parseModelParams('ranker', RankerParams, ctx.params ?? {}),
    }),
};

/** Every job, in the order a round runs them: the served models of the table first, then the ranker. */
export function trainJobs(): TrainJob[] {
  return [...servedModelNames().map(fitJob), BLEND_JOB, RANKER_JOB];
}

/** The generic fit → register → activate job for a model of the table. */
export function fitJob(name: string): TrainJob {
  return {
    name,
    warmStart: true,
    run: async (ctx) =>
      trainFromStore(ctx.store, ctx.registry, {
        model: name, maxMinutes: ctx.maxMinutes, seed: ctx.seed, params: ctx.params, eventWeights: ctx.eventWeights,
        threads: ctx.threads, onProgress: ctx.onProgress, warmStart: ctx.warmStart, data: await ctx.data(),
      }),
  };
}

/** The job `train --model <name>` runs: the trainer's job of that name, else the fit job of a table model. */
export function jobFor(name: string): TrainJob | undefined {
  return trainJobs().find((j) => j.name === name) ?? (modelNames().includes(name) ? fitJob(name) : undefined);
}

/** Every name `train --model` accepts. */
export function trainableNames(): string[] {
  return [...new Set([...trainJobNames(), ...modelNames()])];
}

export function trainJobNames(): string[] {
  return trainJobs().map((j) => j.name);
}
