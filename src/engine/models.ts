/**
 * Connects trained models from the registry (src/models/registry.ts) to a running engine: the active
 * two-tower version's item tower becomes the `twotower` candidate source and the embedding space of
 * diversity re-ranking, and a newly activated version is picked up without a restart.
 */
import { ModelRegistry } from '../models/registry.js';
import { TwoTowerRecommender } from '../models/twotower-train.js';
import type { OnlineEngine } from './online.js';

/** Loads the active two-tower version into the engine; returns the version, or undefined when none is active. */
export function loadTwoTower(engine: OnlineEngine, registry: ModelRegistry): string | undefined {
  if (!registry.active('twotower')) return undefined;
  const art = registry.load('twotower');
  const itemsJson = art.files?.['items.json'];
  if (itemsJson === undefined) return undefined; // trained without an item id list: cannot be mapped to the catalog
  const model = TwoTowerRecommender.fromArtifacts(art.config, art.weights);
  engine.setItemVectors(JSON.parse(itemsJson) as string[], model.itemEmbeddings(), `twotower@${art.version}`);
  void model.dispose();
  return art.version;
}

/** loadTwoTower now and again whenever another version is activated. Returns a stop function. */
export function attachRegistry(engine: OnlineEngine, dataDir: string, log: (m: string) => void = () => undefined): () => void {
  const registry = new ModelRegistry(dataDir);
  const load = (): void => {
    try {
      const v = loadTwoTower(engine, registry);
      if (v) log(`two-tower ${v} serving as a candidate source`);
    } catch (e) {
      log(`two-tower not loaded: ${(e as Error).message}`);
    }
  };
  load();
  return registry.onActiveChange('twotower', load, { intervalMs: 2_000 });
}
