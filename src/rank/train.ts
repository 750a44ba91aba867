/**
 * Training data and validation for the learned ranker, shared by `tastemaker train-ranker` and
 * bench/pipeline.ts. Without logged impressions, each user's next interaction episode is the label and the
 * negatives are sampled from the candidate pool the pipeline produced for that user just before it — the
 * distribution a re-ranker actually faces at serving time.
 */
import { DEFAULT_EVENT_WEIGHTS, type Event } from '../core/schemas.js';
import type { Rng } from '../core/rng.js';
import { NUM_RANK_FEATURES, type MultiObjectiveRanker, type RankExamples } from './ranker.js';
import { isPositive } from '../core/events.js';

/** What training needs from the engine (OnlineEngine.rankingPool). */
export interface PoolProvider {
  rankingPool(userId: string, surface: 'home' | 'next' | 'trending' | 'fresh', poolSize: number): { itemIds: string[]; x: Float32Array; count: number };
}

/** Consecutive events on one item form an episode (play → complete → like). */
export interface Episode {
  /** Index of the episode's first event in the user's log. */
  start: number;
  itemId: string;
  types: Set<string>;
}

/**
 * The last positive episode (test) and the episode before it (validation, any kind: a skipped episode
 * teaches the skip outcome), or undefined when the log is too short. Events must be oldest first.
 */
export function lastEpisodes(events: readonly Event[], weights: Readonly<Record<string, number>> = DEFAULT_EVENT_WEIGHTS): { val: Episode; test: Episode } | undefined {
  const episodes: Episode[] = [];
  for (let k = 0; k < events.length; k++) {
    const last = episodes[episodes.length - 1];
    if (last && last.itemId === events[k].itemId) last.types.add(events[k].type);
    else episodes.push({ start: k, itemId: events[k].itemId, types: new Set([events[k].type]) });
  }
  const positive = (t: Episode): boolean => [...t.types].some((x) => isPositive(x, weights)) && !t.types.has('skip');
  let e = episodes.length - 1;
  while (e >= 0 && !positive(episodes[e])) e--;
  if (e < 2) return undefined;
  return { val: episodes[e - 1], test: episodes[e] };
}

export interface RankTarget {
  userId: string;
  itemId: string;
  types: ReadonlySet<string>;
}

/** Outcome labels of a target episode: the first outcome is engagement (any interaction). */
function label(outcome: string, types: ReadonlySet<string>, first: boolean): boolean {
  if (first) return true;
  return types.has(outcome) || (outcome === 'like' && (types.has('save') || types.has('share')));
}

/**
 * For each target user: the target row (if the pool retrieved it) and `negatives` pool rows sampled
 * uniformly without the target. Users whose target is not in the pool teach a re-ranker nothing: skipped.
 */
export function buildRankExamples(
  pools: PoolProvider,
  targets: readonly RankTarget[],
  outcomes: readonly string[],
  opts: { poolSize: number; negatives: number; rng: Rng },
): { examples: RankExamples; usersWithTarget: number } {
  const F = NUM_RANK_FEATURES;
  const O = outcomes.length;
  let x = new Float32Array(1024 * F);
  let y = new Uint8Array(1024 * O);
  let n = 0;
  let users = 0;
  const push = (row: Float32Array, r: number, t: RankTarget | undefined): void => {
    if ((n + 1) * F > x.length) {
      const x2 = new Float32Array(x.length * 2);
      x2.set(x);
      x = x2;
      const y2 = new Uint8Array(y.length * 2);
      y2.set(y);
      y = y2;
    }
    x.set(row.subarray(r * F, (r + 1) * F), n * F);
    for (let o = 0; o < O; o++) y[n * O + o] = t && label(outcomes[o], t.types, o === 0) ? 1 : 0;
    n++;
  };
  for (const t of targets) {
    const pool = pools.rankingPool(t.userId, 'home', opts.poolSize);
    const pos = pool.itemIds.indexOf(t.itemId);
    if (pos < 0) continue;
    users++;
    push(pool.x, pos, t);
    for (let k = 0; k < opts.negatives && pool.count > 1; k++) {
      const r = opts.rng.int(pool.count);
      if (r !== pos) push(pool.x, r, undefined);
    }
  }
  return { examples: { n, x: x.subarray(0, n * F), y: y.subarray(0, n * O) }, usersWithTarget: users };
}

/** NDCG@10 of the pool order and of the ranker's order over the targets (misses count 0). */
export function validateRanker(pools: PoolProvider, targets: readonly RankTarget[], ranker: MultiObjectiveRanker, poolSize: number): { pool: number; ranker: number; users: number } {
  const scores = new Float32Array(poolSize);
  let a = 0;
  let b = 0;
  for (const t of targets) {
    const pool = pools.rankingPool(t.userId, 'home', poolSize);
    const pos = pool.itemIds.indexOf(t.itemId);
    if (pos < 0) continue;
    if (pos < 10) a += 1 / Math.log2(pos + 2);
    ranker.score(pool.x, pool.count, scores);
    let rank = 0;
    for (let k = 0; k < pool.count; k++) if (scores[k] > scores[pos] || (scores[k] === scores[pos] && k < pos)) rank++;
    if (rank < 10) b += 1 / Math.log2(rank + 2);
  }
  const users = Math.max(1, targets.length);
  return { pool: a / users, ranker: b / users, users: targets.length };
}
