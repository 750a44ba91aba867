/**
 * The fit → register → activate job for every model of the model table (src/models/index.ts): load the
 * stored events as sequences (data.ts), fit within a budget — warm-started from the active version when
 * it indexes the same catalogue — register the new version with its validation metrics, and activate it
 * only when that metric is at least the active version's (the registry's gate). A failed or killed fit
 * registers nothing; a worse one is registered but left inactive; either way the active version serves on.
 */
import { ConflictError, ValidationError } from '../core/errors.js';
import type { EventWeights } from '../core/events.js';
import type { Tensor } from '../core/tensor.js';
import { createModel, modelNames, type FitProgress, type FitReport, type Model, type SavedModel } from '../models/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import { loadTrainingData, type TrainingData } from './data.js';

export interface TrainSummary {
  model: string;
  version: string;
  activated: boolean;
  activeVersion: string | null;
  reason?: string;
  users: number;
  items: number;
  events: number;
  epochs?: number;
  'valid.NDCG@10': number;
  train_seconds: number;
  /** 'warm' when the fit started from `warmFrom`'s weights; 'cold' otherwise (with warmStartReason). */
  warmStart: 'warm' | 'cold';
  warmFrom?: string;
  warmStartReason?: string;
}

export interface FitJobOptions {
  model: string;
  maxMinutes?: number;
  seed: number;
  params?: Record<string, unknown>;
  eventWeights?: EventWeights;
  /** Start from the active version's weights where the model supports it (default true). */
  warmStart?: boolean;
  /** Threads the fit may use (default: the model's own choice). */
  threads?: number;
  onProgress?: (p: FitProgress) => void;
  /** Sequences already loaded for this round (the trainer loads once for all sequence models). */
  data?: TrainingData;
}

/**
 * The active version's artifacts as a warm start, when they index exactly this catalogue (the id list
 * stored beside them is the same): rows of item tables then mean the same items.
 */
export function warmStartInit(registry: ModelRegistry, name: string, itemIds: readonly string[]): { init?: SavedModel; from?: string; reason?: string } {
  const active = registry.active(name);
  if (!active) return { reason: 'no active version' };
  let art;
  try {
    art = registry.load(name, active.version);
  } catch (e) {
    return { reason: `active ${active.version} unreadable: ${(e as Error).message}` };
  }
  if (art.files?.['items.json'] !== JSON.stringify(itemIds)) return { reason: `catalogue changed since ${active.version}` };
  // itemVectors is derived (recomputed after every fit), not a parameter.
  const { itemVectors: _derived, ...weights } = art.weights;
  return { init: { config: art.config, weights }, from: active.version };
}

/**
 * Registers a fitted model's version and tries to activate it; returns the version and the outcome.
 * `refuse`: a job's own reason not to activate (e.g. worse than the heuristics it would replace); the
 * version is still registered, for inspection.
 */
export function registerAndActivate(
  registry: ModelRegistry,
  name: string,
  artifacts: { config: Record<string, unknown>; weights: Record<string, Tensor>; metrics: Record<string, number>; files?: Record<string, string> },
  opts: { refuse?: string } = {},
): { version: string; activated: boolean; reason?: string } {
  const version = registry.register(name, artifacts);
  if (opts.refuse) return { version, activated: false, reason: opts.refuse };
  try {
    registry.activate(name, version);
    return { version, activated: true };
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e;
    return { version, activated: false, reason: e.message };
  }
}

/** The job itself, separate from argument parsing so the CLI, the trainer and tests drive it alike. */
export async function trainFromStore(
  store: Store,
  registry: ModelRegistry,
  opts: FitJobOptions,
  create: () => Model = () => createModel(opts.model),
): Promise<TrainSummary> {
  if (!modelNames().includes(opts.model)) {
    throw new ValidationError(`model ${opts.model} cannot be trained by this job`, [{ path: '--model', message: `one of ${modelNames().join(', ')}` }]);
  }
  const data = opts.data ?? (await loadTrainingData(store, opts.eventWeights));
  if (data.train.items.length < 2 || data.itemIds.length < 2) {
    throw new ValidationError('not enough positive events to train', [{ path: '--db', message: `${data.events} positive events over ${data.itemIds.length} items` }]);
  }
  const warm = opts.warmStart === false ? { reason: 'warm start off' } : warmStartInit(registry, opts.model, data.itemIds);
  const model = create();
  let report: FitReport, config: Record<string, unknown>, weights: Record<string, Tensor>;
  try {
    report = await model.fit({
      train: data.train, validTargets: data.validTargets, side: data.side, seed: opts.seed, maxMinutes: opts.maxMinutes,
      params: opts.params, onProgress: opts.onProgress, threads: opts.threads, init: warm.init,
    });
    ({ config, weights } = model.toArtifacts());
    if (model.itemEmbeddings) weights = { ...weights, itemVectors: model.itemEmbeddings() };
  } finally {
    await model.dispose();
  }
  const validNdcg = report.valid?.['NDCG@10'] ?? 0;
  const valid: Record<string, number> = {};
  for (const [k, v] of Object.entries(report.valid ?? {})) if (Number.isFinite(v)) valid[`valid.${k}`] = v;
  const warmStart = report.warmStart === 'warm' ? 'warm' : 'cold';
  const { version, activated, reason } = registerAndActivate(registry, opts.model, {
    config,
    metrics: {
      ...valid, 'valid.NDCG@10': validNdcg, trainSeconds: report.trainSeconds, epochs: report.epochs ?? 0,
      users: data.userIds.length, items: data.itemIds.length, events: data.events, warmStart: warmStart === 'warm' ? 1 : 0,
    },
    weights,
    files: { 'items.json': JSON.stringify(data.itemIds), 'users.json': JSON.stringify(data.userIds) },
  });
  return {
    model: opts.model,
    version,
    activated,
    activeVersion: registry.active(opts.model)?.version ?? null,
    ...(reason ? { reason } : {}),
    users: data.userIds.length,
    items: data.itemIds.length,
    events: data.events,
    epochs: report.epochs,
    'valid.NDCG@10': validNdcg,
    train_seconds: report.trainSeconds,
    warmStart,
    ...(warmStart === 'warm' ? { warmFrom: warm.from } : { warmStartReason: warm.reason ?? (warm.init ? 'model starts cold (shapes differ or no warm start)' : 'none') }),
  };
}
