/**
 * Full-pipeline offline evaluation (retrieval + learned ranking) against the single candidate sources,
 * leave-one-out over all items (loo-full): per user the last interaction is the test target, the one
 * before it the validation target, the rest is history. Ranks are over the whole catalog minus the user's
 * history; an item the pipeline does not retrieve is a miss (rank > pool).
 *
 *   1. Engine A replays the training part. For sampled users, the `home` candidate pool (200 items, with
 *      feature rows) is labelled by the validation interaction: the ranker learns from the pool the
 *      pipeline really produces (its negatives are the retrieved non-targets) — there are no impressions in
 *      offline datasets, so these are the sampled negatives.
 *   2. Engine B replays training + validation. Each evaluation user's pool is ranked four ways:
 *      trending only, co-occurrence only, the merged pool (co-occurrence, back-filled by trending) and the
 *      learned ranker over the merged pool. Per-source recall@pool says which source brings the hits.
 *
 * Datasets: ML-1M (`--data` sasrec file, or `--data ../shared/data/movielens-1m --format movielens-1m` for
 * the same interactions with genres as tags; one outcome 'play'; timestamps are synthetic, one minute apart,
 * and trending uses a one-year half-life so it means popularity) or the synthetic demo world
 * (`--data demo`: play/complete/like/skip events, multi-objective ranker blended with the event weights).
 *
 *   tastemaker bench pipeline --json [--data ../shared/data/movielens-1m/derived/ml-1m.sasrec-format.txt | demo]
 *                                    [--train-users N] [--eval-users 6040] [--pool 200] [--negatives 100] [--lr 0.01] [--epochs 10]
 */
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/core/clock.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { DEFAULT_EVENT_WEIGHTS, type Event, type Item } from '../src/core/schemas.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine, type EngineConfigInput, type OnlineEngine } from '../src/engine/index.js';
import { readDataset } from '../src/ingest/datasets.js';
import { MultiObjectiveRanker, NUM_RANK_FEATURES, RANK_FEATURES, buildRankExamples, lastEpisodes, type Episode } from '../src/rank/index.js';
import { MemoryStore } from '../src/store/memory.js';

const DAY = 86_400_000;
const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

/** One user's log: events oldest first (item id, type, time, session). */
interface UserLog {
  userId: string;
  events: Event[];
}

interface World {
  name: string;
  items: Item[];
  logs: UserLog[];
  outcomes: string[];
  config: EngineConfigInput;
}

async function ml1m(path: string, format: 'sasrec' | 'movielens-1m'): Promise<World> {
  const ds = await readDataset(path, format);
  const T0 = Date.UTC(2020, 0, 1);
  const items: Item[] = ds.itemIds.map((id, i) => ({ id, title: ds.itemTitles?.[i] ?? '', text: '', tags: ds.itemTags?.[i] ?? [], attributes: {}, createdAt: 0, available: true }));
  const logs: UserLog[] = [];
  const { offsets, items: seq } = ds.seqs;
  for (let u = 0; u < ds.seqs.numUsers; u++) {
    const events: Event[] = [];
    for (let k = offsets[u]; k < offsets[u + 1]; k++) {
      events.push({ id: `e${k}`, userId: ds.userIds[u], itemId: ds.itemIds[seq[k]], type: 'play', timestamp: T0 + (k - offsets[u]) * 60_000 });
    }
    logs.push({ userId: ds.userIds[u], events });
  }
  return { name: 'ml-1m', items, logs, outcomes: ['play'], config: { trendingHalfLifeMs: 365 * DAY } };
}

function demo(): World {
  const data = generateSynthetic({ seed: 3, users: 4_000, items: 8_000, creators: 600, days: 30, eventsPerUser: 60, startMs: Date.UTC(2026, 0, 1) });
  const byUser = new Map<string, Event[]>();
  for (const e of data.events) {
    let l = byUser.get(e.userId);
    if (!l) byUser.set(e.userId, (l = []));
    l.push(e);
  }
  const logs = [...byUser.entries()].map(([userId, events]) => ({ userId, events }));
  return { name: 'demo', items: data.items, logs, outcomes: ['play', 'complete', 'like', 'skip'], config: {} };
}

async function engineOn(world: World, logs: { events: Event[] }[], nowMs: number): Promise<OnlineEngine> {
  const store = new MemoryStore();
  await store.upsertItems(world.items);
  const all = logs.flatMap((l) => l.events).sort((a, b) => a.timestamp - b.timestamp);
  for (let i = 0; i < all.length; i += 50_000) await store.appendEvents(all.slice(i, i + 50_000));
  return (await createEngine(store, { clock: new ManualClock(nowMs), config: { ...world.config, ranker: { poolSize: 200 } } })) as OnlineEngine;
}

interface Ranks {
  hr10: number;
  ndcg10: number;
  hr50: number;
  users: number;
}

function accumulate(r: Ranks, rank: number): void {
  r.users++;
  if (rank <= 10) {
    r.hr10++;
    r.ndcg10 += 1 / Math.log2(rank + 1);
  }
  if (rank <= 50) r.hr50++;
}

const summary = (r: Ranks): Record<string, number> => ({ 'HR@10': round(r.hr10 / r.users), 'NDCG@10': round(r.ndcg10 / r.users), 'HR@50': round(r.hr50 / r.users) });

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: '../shared/data/movielens-1m/derived/ml-1m.sasrec-format.txt' },
      /** sasrec (ids only) or movielens-1m (the folder: chronological tsv + movies.dat genres as tags). */
      format: { type: 'string', default: 'sasrec' },
      'train-users': { type: 'string', default: '100000' },
      'eval-users': { type: 'string', default: '6040' },
      pool: { type: 'string', default: '200' },
      negatives: { type: 'string', default: '100' },
      lr: { type: 'string', default: '0.01' },
      epochs: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const num = (k: 'train-users' | 'eval-users' | 'pool' | 'negatives' | 'seed' | 'epochs'): number => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v <= 0) throw new ValidationError(`--${k} must be a positive integer`, [{ path: `--${k}`, message: 'must be a positive integer' }]);
    return v;
  };
  if (!(Number(values.lr) > 0 && Number(values.lr) < 1)) throw new ValidationError('--lr must be in (0, 1)', [{ path: '--lr', message: 'must be in (0, 1)' }]);
  const t0 = performance.now();
  if (values.format !== 'sasrec' && values.format !== 'movielens-1m') {
    throw new ValidationError('--format must be sasrec or movielens-1m', [{ path: '--format', message: 'sasrec or movielens-1m' }]);
  }
  const world = values.data === 'demo' ? demo() : await ml1m(values.data, values.format);
  const rng = new Rng(num('seed'));
  const usable = world.logs.map((l) => ({ log: l, t: lastEpisodes(l.events) })).filter((x) => x.t !== undefined) as { log: UserLog; t: { val: Episode; test: Episode } }[];
  let endMs = 0;
  for (const l of world.logs) for (const e of l.events) if (e.timestamp > endMs) endMs = e.timestamp;
  endMs += 60_000;
  const poolSize = num('pool');
  const F = NUM_RANK_FEATURES;
  const O = world.outcomes.length;

  // 1. Train the ranker on engine A (history = events before the validation target).
  const engineA = await engineOn(world, usable.map(({ log, t }) => ({ events: log.events.slice(0, t.val.start) })), endMs);
  const trainUsers = rng.shuffle(Int32Array.from({ length: usable.length }, (_, i) => i)).subarray(0, Math.min(num('train-users'), usable.length));
  const built = buildRankExamples(
    engineA,
    Array.from(trainUsers, (u) => ({ userId: usable[u].log.userId, itemId: usable[u].t.val.itemId, types: usable[u].t.val.types })),
    world.outcomes,
    { poolSize, negatives: num('negatives'), rng },
  );
  const trainHits = built.usersWithTarget;
  await engineA.close();
  const weights = Object.fromEntries(world.outcomes.map((o) => [o, DEFAULT_EVENT_WEIGHTS[o] ?? 0]));
  const ranker = new MultiObjectiveRanker({ outcomes: world.outcomes, weights, l2: 1e-4, learningRate: Number(values.lr), epochs: num('epochs'), batchSize: 256, seed: 1 });
  const n = built.examples.n;
  const tFit = performance.now();
  const losses = ranker.fit(built.examples);
  const fitSeconds = (performance.now() - tFit) / 1000;

  // 2. Evaluate on engine B (history = everything before the test target).
  const engineB = await engineOn(world, usable.map(({ log, t }) => ({ events: log.events.slice(0, t.test.start) })), endMs);
  const evalUsers = rng.shuffle(Int32Array.from({ length: usable.length }, (_, i) => i)).subarray(0, Math.min(num('eval-users'), usable.length));
  const res = { trending: newRanks(), cooc: newRanks(), merged: newRanks(), ranker: newRanks() };
  const recall: Record<string, number> = { cooc: 0, trending: 0, pool: 0 };
  const scores = new Float32Array(poolSize);
  const inCooc = RANK_FEATURES.indexOf('in:cooc');
  const big = 1e9;
  let rankMs = 0;
  for (const u of evalUsers) {
    const { log, t } = usable[u];
    const target = t.test.itemId;
    const tr = engineB.rankingPool(log.userId, 'trending', poolSize);
    const trPos = tr.itemIds.indexOf(target);
    accumulate(res.trending, trPos >= 0 ? trPos + 1 : big);
    if (trPos >= 0) recall.trending++;
    const tPool = performance.now();
    const pool = engineB.rankingPool(log.userId, 'home', poolSize);
    ranker.score(pool.x, pool.count, scores);
    rankMs += performance.now() - tPool;
    const pos = pool.itemIds.indexOf(target);
    accumulate(res.merged, pos >= 0 ? pos + 1 : big);
    if (pos >= 0) recall.pool++;
    // Co-occurrence alone: the pool's co-occurrence entries come first, in their own order.
    const coocHit = pos >= 0 && pool.x[pos * F + inCooc] === 1;
    accumulate(res.cooc, coocHit ? pos + 1 : big);
    if (coocHit) recall.cooc++;
    if (pos < 0) accumulate(res.ranker, big);
    else {
      let rank = 1;
      for (let k = 0; k < pool.count; k++) if (scores[k] > scores[pos] || (scores[k] === scores[pos] && k < pos)) rank++;
      accumulate(res.ranker, rank);
    }
  }
  await engineB.close();
  const users = evalUsers.length;
  const best = (['trending', 'cooc', 'merged'] as const).reduce((a, b) => (res[b].ndcg10 > res[a].ndcg10 ? b : a));
  return {
    dataset: world.name,
    protocol: 'loo-full',
    users,
    items: world.items.length,
    pool: poolSize,
    trainExamples: n,
    trainUsersWithTargetInPool: trainHits,
    trending: summary(res.trending),
    cooc: summary(res.cooc),
    merged: summary(res.merged),
    ranker: summary(res.ranker),
    bestSingleSource: best,
    rankerMinusBestNdcg10: round((res.ranker.ndcg10 - res[best].ndcg10) / users),
    recallAtPool: { cooc: round(recall.cooc / users), trending: round(recall.trending / users), merged: round(recall.pool / users) },
    rankerLogLoss: Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, round(v)])),
    rankerTopWeights: ranker.topWeights(4),
    fitSeconds: round(fitSeconds, 1),
    /** Mean time to merge a 200-item pool, assemble its features and score it (the ranker's serving cost). */
    poolAndRankMsPerUser: round(rankMs / users, 3),
    seconds: round((performance.now() - t0) / 1000, 1),
    outcomes: O,
  };
}

function newRanks(): Ranks {
  return { hr10: 0, ndcg10: 0, hr50: 0, users: 0 };
}
