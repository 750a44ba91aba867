/**
 * Connects trained models from the registry (src/registry/) to a running engine: the active
 * two-tower version's item tower becomes the `twotower` candidate source and the embedding space of
 * diversity re-ranking; the active SASRec version becomes the `sasrec` sequential next-item source; the
 * active ranker re-scores every pool; a newly activated version is picked up without a restart (a version
 * that fails to load is logged and the one serving stays).
 */
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { ModelRegistry } from '../registry/index.js';
import { SasrecPredictor } from '../models/sasrec-serve.js';
import { TwoTowerRecommender } from '../models/twotower-train.js';
import { TwoTowerUserEncoder } from '../models/twotower-serve.js';
import { MultiObjectiveRanker } from '../rank/index.js';
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
