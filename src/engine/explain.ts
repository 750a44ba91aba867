/**
 * `explain=true`: why an item is on the page — its per-source scores, how the merge and the re-rank scored
 * it, the main features behind it (age, trending, creator relation, tags) and, for co-occurrence, the seed
 * items that contributed most ("because you played …").
 */
import type { CooccurrenceIndex } from '../candidates/index.js';
import type { OnlineFeatures, UserHistory } from '../features/index.js';
import type { RerankResult } from '../rank/index.js';

export interface ExplainContext {
  features: OnlineFeatures;
  cooc: CooccurrenceIndex;
  /** The requesting user's history (undefined: cold or anonymous). */
  history: UserHistory | undefined;
  /** How many recent positive items seed the home surface (the "because" candidates). */
  seedItems: number;
  nowMs: number;
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * ix: the item; perSource: its raw score per proposing source; rr/k: the re-rank result and the item's
 * page position (rr undefined: no re-rank); seedIx: the `similar` surface's seed item, else -1.
 */
export function explainItem(
  c: ExplainContext,
  ix: number,
  perSource: Record<string, number>,
  mergedScore: number,
  rr: RerankResult | undefined,
  k: number,
  seedIx: number,
): Record<string, unknown> {
  const f = c.features;
  const cat = f.catalog;
  const h = c.history;
  const scores: Record<string, number> = {};
  for (const [name, v] of Object.entries(perSource)) scores[name] = round(v);
  const creatorIx = cat.creatorIx[ix];
  const tags: string[] = [];
  for (let p = cat.tagStart[ix], e = p + cat.tagCount[ix]; p < e && tags.length < 10; p++) tags.push(cat.tags.id(cat.tagPool[p]));
  const features: Record<string, unknown> = {
    ageHours: round(Math.max(0, c.nowMs - cat.createdAtMs[ix]) / 3_600_000),
    trending: round(f.trendingAt(ix, c.nowMs)),
    creatorId: creatorIx >= 0 ? cat.creators.id(creatorIx) : null,
    tags,
  };
  if (h && creatorIx >= 0) {
    features.followsCreator = h.followedCreators.has(creatorIx);
    let plays = 0;
    for (let j = 0; j < h.length; j++) {
      const s = h.slot(j);
      if (h.weights[s] > 0 && cat.creatorIx[h.items[s]] === creatorIx) plays++;
    }
    features.recentCreatorInteractions = plays;
  }
  const out: Record<string, unknown> = { scores, merged: round(mergedScore), features };
  if (rr) {
    out.rerank = {
      relevance: round(rr.relevance[k]),
      freshness: round(rr.freshness[k]),
      rules: round(rr.rules[k]),
      maxSimilarity: round(rr.maxSim[k]),
      final: round(rr.score[k]),
    };
  }
  if (!('cooc' in perSource || 'cooc-session' in perSource)) return out;
  const seeds = seedIx >= 0 ? [seedIx] : recentPositives(h, c.seedItems);
  const because: { itemId: string; similarity: number }[] = [];
  for (const s of seeds) {
    const sim = c.cooc.similarity(s, ix);
    if (sim > 0) because.push({ itemId: cat.ids.id(s), similarity: round(sim) });
  }
  because.sort((a, b) => b.similarity - a.similarity);
  out.because = because.slice(0, 3);
  return out;
}

/** Up to `limit` distinct positive items, newest first. */
function recentPositives(h: UserHistory | undefined, limit: number): number[] {
  if (!h) return [];
  const seen = new Set<number>();
  for (let k = 0; k < h.length && seen.size < limit; k++) {
    const s = h.slot(k);
    if (h.weights[s] > 0) seen.add(h.items[s]);
  }
  return [...seen];
}
