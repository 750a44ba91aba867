/**
 * Connects trained models from the registry (src/registry/) to a running engine: the active
 * two-tower version's item tower becomes the `twotower` candidate source and the embedding space of
 * diversity re-ranking; the active SASRec version becomes the `sasrec` sequential next-item source; the
 * active ranker re-scores every pool; a newly activated version is picked up without a restart (a version
 * that fails to load is logged and the one serving stays). Also the ranker's training job (`tastemaker train-ranker`), which needs an engine.
 */
import { z } from 'zod';
import { ManualClock } from '../core/clock.js';
import { ConflictError, ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { DEFAULT_EVENT_WEIGHTS, type Event, type Item } from '../core/schemas.js';
import { ModelRegistry } from '../registry/index.js';
import { SasrecPredictor } from '../models/sasrec-serve.js';
import { TwoTowerRecommender } from '../models/twotower-train.js';
import { TwoTowerUserEncoder } from '../models/twotower-serve.js';
import { MultiObjectiveRanker, buildRankExamples, lastEpisodes, validateRanker, type RankTarget } from '../rank/index.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/types.js';
import type { EngineConfigInput } from './config.js';
import { createEngine } from './index.js';
import type { OnlineEngine } from './online.js';

/** Loads the active two-tower version into the engine; returns the version, or undefined when none is active. */
export function loadTwoTower(engine: OnlineEngine, registry: ModelRegistry): string | undefined {
  if (!registry.active('twotower')) return undefined;
  const art = registry.load('twotower');
  const itemsJson = art.files?.['items.json'];
  if (itemsJson === undefined) return undefined; // trained without an item id list: cannot be mapped to the catalog
  const stored = art.weights.itemVectors;
  let vectors: Float32Array;
  if (stored instanceof Float32Array) vectors = stored;
  else {
    const model = TwoTowerRecommender.fromArtifacts(art.config, art.weights);
    vectors = model.itemEmbeddings();
    void model.dispose();
  }
  // The user tower for the learned blend; a model it cannot serve (per-user ids) still serves its item vectors.
  let encoder: TwoTowerUserEncoder | undefined;
  try {
    encoder = new TwoTowerUserEncoder(art.config, art.weights, vectors);
  } catch {
    encoder = undefined;
  }
  engine.setItemVectors(JSON.parse(itemsJson) as string[], vectors, `twotower@${art.version}`);
  engine.setUserTower(encoder);
  return art.version;
}

/**
 * Loads the active SASRec version as the engine's `sasrec` source; returns the version, or undefined when
 * none is active. Throws (leaving the serving model in place) when the artifact is unreadable or corrupt.
 */
export function loadSasrec(engine: OnlineEngine, registry: ModelRegistry): string | undefined {
  if (!registry.active('sasrec')) return undefined;
  const art = registry.load('sasrec');
  const itemsJson = art.files?.['items.json'];
  if (itemsJson === undefined) throw new ValidationError(`sasrec ${art.version} has no items.json`, [{ path: 'files.items.json', message: 'missing' }]);
  const itemIds = JSON.parse(itemsJson) as unknown;
  if (!Array.isArray(itemIds) || !itemIds.every((x) => typeof x === 'string')) {
    throw new ValidationError(`sasrec ${art.version} items.json is not a list of ids`, [{ path: 'files.items.json', message: 'expected string[]' }]);
  }
  const predictor = SasrecPredictor.fromArtifacts(art.config, art.weights);
  if (itemIds.length !== predictor.numItems) {
    void predictor.dispose();
    throw new ValidationError(`sasrec ${art.version}: items.json has ${itemIds.length} ids for ${predictor.numItems} model items`, [{ path: 'files.items.json', message: 'length mismatch' }]);
  }
  engine.setSequential(predictor, itemIds as string[], `sasrec@${art.version}`);
  return art.version;
}

/** The mixing weights a `blend` version stores in its config (src/train/blend.ts writes them). */
const BlendConfig = z.object({ weights: z.object({ sasrec: z.number().finite().min(0), twotower: z.number().finite().min(0) }) });

/** Sets the active learned-blend weights on the engine; returns the version, or undefined when none is active. */
export function loadBlend(engine: OnlineEngine, registry: ModelRegistry): string | undefined {
  if (!registry.active('blend')) return undefined;
  const art = registry.load('blend');
  const parsed = BlendConfig.safeParse(art.config);
  if (!parsed.success) throw new ValidationError(`blend ${art.version} has no valid weights`, [{ path: 'config.weights', message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  engine.setBlend(parsed.data.weights, `blend@${art.version}`);
  return art.version;
}

/** Sets the active ranker version on the engine; returns the version, or undefined when none is active. */
export function loadRanker(engine: OnlineEngine, registry: ModelRegistry): string | undefined {
  if (!registry.active('ranker')) return undefined;
  const art = registry.load('ranker');
  engine.setRanker(MultiObjectiveRanker.fromArtifacts(art.config, art.weights), `ranker@${art.version}`, { learnedPools: art.metrics.learnedPools === 1 });
  return art.version;
}

/** loadTwoTower, loadSasrec and loadRanker now and again whenever another version is activated. Returns a stop function. */
export function attachRegistry(engine: OnlineEngine, dataDir: string, log: (m: string) => void = () => undefined, opts: { intervalMs?: number } = { intervalMs: 2_000 }): () => void {
  const registry = new ModelRegistry(dataDir);
  const loadTT = (): void => {
    try {
      const v = loadTwoTower(engine, registry);
      if (v) log(`two-tower ${v} serving as a candidate source`);
    } catch (e) {
      log(`two-tower not loaded: ${(e as Error).message}`);
    }
  };
  const loadRK = (): void => {
    try {
      const v = loadRanker(engine, registry);
      if (v) log(`ranker ${v} re-scoring candidate pools`);
    } catch (e) {
      log(`ranker not loaded: ${(e as Error).message}`);
    }
  };
  const loadSR = (): void => {
    try {
      const v = loadSasrec(engine, registry);
      if (v) log(`sasrec ${v} serving as the sequential next-item source`);
    } catch (e) {
      log(`sasrec not loaded: ${(e as Error).message}`);
    }
  };
  const loadBL = (): void => {
    try {
      const v = loadBlend(engine, registry);
      if (v) log(`blend ${v} ranking home and next from the learned models`);
    } catch (e) {
      log(`blend not loaded: ${(e as Error).message}`);
    }
  };
  loadTT();
  loadSR();
  loadRK();
  loadBL();
  const stops = [
    registry.onActiveChange('blend', loadBL, { intervalMs: opts.intervalMs }),
    registry.onActiveChange('twotower', loadTT, { intervalMs: opts.intervalMs }),
    registry.onActiveChange('sasrec', loadSR, { intervalMs: opts.intervalMs }),
    registry.onActiveChange('ranker', loadRK, { intervalMs: opts.intervalMs }),
  ];
  return () => stops.forEach((stop) => stop());
}

export interface TrainRankerOptions {
  engineConfig?: EngineConfigInput;
  poolSize?: number;
  negatives?: number;
  /** Most users whose target episodes are used (sampled; the others only shape the history). */
  maxUsers?: number;
  /** Share of users held out for the validation metric. */
  validShare?: number;
  seed?: number;
  epochs?: number;
  learningRate?: number;
}

export interface TrainRankerSummary {
  model: 'ranker';
  version: string;
  activated: boolean;
  reason?: string;
  users: number;
  trainExamples: number;
  outcomes: string[];
  'valid.NDCG@10': number;
  'valid.poolNDCG@10': number;
  train_seconds: number;
}

/**
 * Trains the ranker on the store's log: each user's last positive episode is the label, the engine is
 * warmed on everything before it, and the user's `home` pool gives the negatives; a held-out share of the
 * users measures NDCG@10 of the ranker against the pool order. Registers and activates (unless worse).
 */
export async function trainRankerFromStore(store: Store, registry: ModelRegistry, opts: TrainRankerOptions = {}): Promise<TrainRankerSummary> {
  const t0 = performance.now();
  const poolSize = opts.poolSize ?? 200;
  const items: Item[] = [];
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: 10_000 });
    items.push(...page);
    if (page.length < 10_000) break;
    afterId = page[page.length - 1].id;
  }
  const byUser = new Map<string, Event[]>();
  let lastMs = 0;
  for await (const batch of store.scanEvents({ batchSize: 10_000 })) {
    for (const e of batch) {
      let l = byUser.get(e.userId);
      if (!l) byUser.set(e.userId, (l = []));
      l.push(e);
      if (e.timestamp > lastMs) lastMs = e.timestamp;
    }
  }
  const weights = { ...DEFAULT_EVENT_WEIGHTS, ...(opts.engineConfig?.eventWeights ?? {}) };
  const targets: RankTarget[] = [];
  const history = new MemoryStore();
  await history.upsertItems(items);
  const seen = new Set<string>();
  let pending: Event[] = [];
  for (const [userId, events] of byUser) {
    events.sort((a, b) => a.timestamp - b.timestamp);
    const t = lastEpisodes(events, weights);
    const cut = t ? t.test.start : events.length;
    if (t) targets.push({ userId, itemId: t.test.itemId, types: t.test.types });
    for (const e of events) seen.add(e.type);
    for (let k = 0; k < cut; k++) pending.push(events[k]);
    if (pending.length >= 50_000) {
      await history.appendEvents(pending);
      pending = [];
    }
  }
  await history.appendEvents(pending);
  if (targets.length < 10) {
    throw new ValidationError(`not enough users to train a ranker: ${targets.length} have a target episode`, [{ path: '--db', message: 'need at least 10 users with 3+ interaction episodes' }]);
  }
  const engine = (await createEngine(history, { clock: new ManualClock(lastMs + 1), config: { ...opts.engineConfig, ranker: { poolSize } } })) as OnlineEngine;
  // The pools the ranker will re-order when served: the learned blend's when one is active (the models
  // were validated on these very held-out steps and never trained on them), else the heuristic merge.
  let blendVersion: string | undefined;
  try {
    loadTwoTower(engine, registry);
    loadSasrec(engine, registry);
    blendVersion = loadBlend(engine, registry);
  } catch {
    blendVersion = undefined;
  }
  const rng = new Rng(opts.seed ?? 1);
  rng.shuffle(targets);
  if (opts.maxUsers !== undefined && targets.length > opts.maxUsers) targets.length = opts.maxUsers;
  const nValid = Math.max(1, Math.floor(targets.length * (opts.validShare ?? 0.1)));
  const valid = targets.slice(0, nValid);
  const train = targets.slice(nValid);
  const outcomes = ['play', ...['complete', 'like', 'skip'].filter((o) => seen.has(o))];
  const built = buildRankExamples(engine, train, outcomes, { poolSize, negatives: opts.negatives ?? 100, rng });
  if (built.usersWithTarget === 0) throw new ValidationError('no user had the target in the candidate pool', [{ path: '--db', message: 'too little co-occurrence to train on' }]);
  const ranker = new MultiObjectiveRanker({
    outcomes,
    weights: Object.fromEntries(outcomes.map((o) => [o, weights[o] ?? 0])),
    l2: 1e-4,
    learningRate: opts.learningRate ?? 0.01,
    epochs: opts.epochs ?? 10,
    batchSize: 256,
    seed: opts.seed ?? 1,
  });
  ranker.fit(built.examples);
  const v = validateRanker(engine, valid, ranker, poolSize);
  await engine.close();
  const learnedPools = blendVersion !== undefined && engine.learned.ready;
  const trainSeconds = (performance.now() - t0) / 1000;
  const { config, weights: tensors } = ranker.toArtifacts();
  const version = registry.register('ranker', {
    config,
    metrics: { 'valid.NDCG@10': v.ranker, 'valid.poolNDCG@10': v.pool, users: targets.length, examples: built.examples.n, trainSeconds, learnedPools: learnedPools ? 1 : 0 },
    weights: tensors,
  });
  let activated = false;
  let reason: string | undefined;
  // A ranker that re-orders its pools worse than they came on held-out users is never served.
  if (!(v.ranker >= v.pool)) reason = `validation NDCG@10 ${v.ranker.toFixed(4)} is below the pool order's ${v.pool.toFixed(4)}`;
  else {
    try {
      registry.activate('ranker', version);
      activated = true;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      reason = e.message;
    }
  }
  return {
    model: 'ranker',
    version,
    activated,
    ...(reason ? { reason } : {}),
    users: targets.length,
    trainExamples: built.examples.n,
    outcomes,
    'valid.NDCG@10': v.ranker,
    'valid.poolNDCG@10': v.pool,
    train_seconds: trainSeconds,
  };
}
