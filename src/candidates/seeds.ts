/**
 * Seed selection for the item-to-item sources: which of a user's past items a surface conditions on and
 * how much each counts. Home uses the recent history (event weight × recency decay); next uses the current
 * session with a steeper decay, so the last item played dominates. Only positive interactions seed;
 * repeated items accumulate their weights.
 */
import type { UserHistory } from '../features/history.js';
import type { CandidateContext } from './types.js';

export interface SeedConfig {
  /** Newest positive interactions considered. */
  seedItems: number;
  /** Weight multiplier per step back in time (0 < decay ≤ 1). */
  recencyDecay: number;
}

/** Fills ctx seeds from the newest positive entries of h (the whole ring, or the current session only). */
export function seedsFromHistory(ctx: CandidateContext, h: UserHistory | undefined, cfg: SeedConfig, sessionOnly: boolean): void {
  ctx.seedCount = 0;
  if (!h) return;
  const limit = Math.min(cfg.seedItems, ctx.seedItems.length);
  const span = sessionOnly ? h.sessionLength : h.length;
  let step = 0;
  for (let k = 0; k < span && step < limit; k++) {
    const s = h.slot(k);
    const w = h.weights[s];
    if (w <= 0) continue;
    const it = h.items[s];
    const contribution = w * Math.pow(cfg.recencyDecay, step++);
    let found = -1;
    for (let j = 0; j < ctx.seedCount; j++) if (ctx.seedItems[j] === it) found = j;
    if (found >= 0) ctx.seedWeights[found] += contribution;
    else {
      ctx.seedItems[ctx.seedCount] = it;
      ctx.seedWeights[ctx.seedCount++] = contribution;
    }
  }
}

/** Sets a single seed (the `similar` surface). */
export function singleSeed(ctx: CandidateContext, itemIx: number): void {
  ctx.seedItems[0] = itemIx;
  ctx.seedWeights[0] = 1;
  ctx.seedCount = 1;
}
