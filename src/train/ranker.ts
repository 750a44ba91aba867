/**
 * The ranker's training job (`tastemaker train-ranker`, and the trainer's `ranker` job). Unlike the
 * sequence models it needs the serving path itself: a user's candidate pool is what the engine would
 * propose, so the job replays the log into a private in-memory engine (through the engine's public door)
 * and learns to re-order those pools. It starts cold every time: a logistic model over a few dozen
 * features, fitted in seconds, where a warm start would buy nothing.
 */
import { z } from 'zod';
import { ManualClock } from '../core/clock.js';
import { ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { DEFAULT_EVENT_WEIGHTS, type Event } from '../core/schemas.js';
import { createEngine, loadBlend, loadSasrec, loadTwoTower, type EngineConfigInput, type OnlineEngine } from '../engine/index.js';
import { MultiObjectiveRanker, buildRankExamples, lastEpisodes, validateRanker, type RankTarget } from '../rank/index.js';
import type { ModelRegistry } from '../registry/index.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/index.js';
import { registerAndActivate } from './fit.js';
import { scanAllItems } from './data.js';

/** The ranker's tunable settings as the trainer config (`trainer.params.ranker`) may give them. */
export const RankerParams = z.strictObject({
  poolSize: z.number().int().min(10).max(1_000).optional(),
  negatives: z.number().int().min(1).max(1_000).optional(),
  maxUsers: z.number().int().min(10).max(10_000_000).optional(),
  validShare: z.number().gt(0).lt(1).optional(),
  epochs: z.number().int().min(1).max(1_000).optional(),
  learningRate: z.number().gt(0).max(10).optional(),
});

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
  const items = await scanAllItems(store);
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
  const { version, activated, reason } = registerAndActivate(registry, 'ranker', {
    config,
    metrics: { 'valid.NDCG@10': v.ranker, 'valid.poolNDCG@10': v.pool, users: targets.length, examples: built.examples.n, trainSeconds, learnedPools: learnedPools ? 1 : 0 },
    weights: tensors,
  }, {
    // A ranker that re-orders its pools worse than they came on held-out users is never served.
    refuse: v.ranker >= v.pool ? undefined : `validation NDCG@10 ${v.ranker.toFixed(4)} is below the pool order's ${v.pool.toFixed(4)}`,
  });
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
