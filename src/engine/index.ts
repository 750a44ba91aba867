/**
 * The engine stage's public door: `createEngine(store)` builds the online engine, warms it from the
 * store (catalog + full event log) and returns the `Engine` facade that `serve`, `demo` and tests call.
 */
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/types.js';
import { parseEngineConfig, type EngineConfigInput } from './config.js';
import { OnlineEngine } from './online.js';
import type { Engine } from './types.js';

export type * from './types.js';
export { EngineConfig, parseEngineConfig, type EngineConfigInput } from './config.js';
export { OnlineEngine } from './online.js';

export interface CreateEngineOptions {
  /** Engine configuration (validated; defaults fill the rest). */
  config?: EngineConfigInput;
  /** Time source for "now" (decay, freshness, expiry); the system clock by default. */
  clock?: Clock;
  /** Called once warm-up finished, with what was loaded. */
  onWarm?: (info: { items: number; events: number; lastSeq: number; ms: number }) => void;
}

/** Builds the engine on a (migrated) store and replays the store into its online state. */
export async function createEngine(store: Store, opts: CreateEngineOptions = {}): Promise<Engine> {
  const engine = new OnlineEngine(store, parseEngineConfig(opts.config), opts.clock);
  const t0 = performance.now();
  const info = await engine.warm();
  opts.onWarm?.({ ...info, ms: performance.now() - t0 });
  return engine;
}
export { attachRegistry, loadBlend, loadRanker, loadSasrec, loadTwoTower } from './models.js';
