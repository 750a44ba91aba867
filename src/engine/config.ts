/**
 * Engine configuration: one zod schema (validator, type and defaults in one place). Durations are in ms;
 * every count has a bound. Event weights are the reward per event type (negative = negative feedback).
 */
import { z } from 'zod';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import { DEFAULT_EVENT_WEIGHTS, EventType, LIMITS } from '../core/schemas.js';

const HOUR_MS = 3_600_000;
const ms = (max: number) => z.number().positive().max(max);

const SurfaceFlags = z.strictObject({
  home: z.boolean().default(true),
  next: z.boolean().default(true),
  similar: z.boolean().default(true),
  trending: z.boolean().default(true),
  fresh: z.boolean().default(true),
});

export const EngineConfig = z.strictObject({
  eventWeights: z.record(EventType, z.number().min(-100).max(100)).default({ ...DEFAULT_EVENT_WEIGHTS }),
  /** Half-life of the trending counters. */
  trendingHalfLifeMs: ms(365 * 24 * HOUR_MS).default(24 * HOUR_MS),
  /** Half-life of the recency part of the fresh score. */
  freshHalfLifeMs: ms(365 * 24 * HOUR_MS).default(3 * 24 * HOUR_MS),
  /** Lift of fresh items by early engagement: score · (1 + w · ln(1 + trending)). */
  freshPopularityWeight: z.number().min(0).max(10).default(0.1),
  /**
   * Interactions remembered per user (ring, grown on demand). 200 = SASRec's input length: the served
   * models must see the history they were trained and validated on.
   */
  historySize: z.number().int().min(1).max(10_000).default(200),
  /** Without client session ids, a gap longer than this starts a new session. */
  sessionGapMs: ms(7 * 24 * HOUR_MS).default(30 * 60_000),
  /** Consumed items remembered per user for exclusion (oldest forgotten first). */
  maxConsumedPerUser: z.number().int().min(0).max(1_000_000).default(5_000),
  /** Events weighing at most this are hard negatives, excluded from every surface for that user. */
  hardNegativeWeight: z.number().max(0).default(-2),
  cooc: z
    .strictObject({
      /** Previous positive items in the session each occurrence pairs with. */
      window: z.number().int().min(1).max(100).default(5),
      /** Pairs only form within this time span. */
      windowMs: ms(30 * 24 * HOUR_MS).default(2 * HOUR_MS),
      minSupport: z.number().int().min(1).max(1_000).default(2),
      maxNeighbours: z.number().int().min(10).max(100_000).default(1_000),
      /**
       * sim = c(i,j) / (n_i^(1-alpha) · n_j^alpha): 0.5 = cosine, 0 = P(j | i). On the synthetic replay
       * (docs/benchmarks.md, Online engine) 0.2 gives HR@20 of next 0.131 vs 0.100 for cosine.
       */
      alpha: z.number().min(0).max(1).default(0.2),
    })
    .prefault({}),
  home: z
    .strictObject({
      seedItems: z.number().int().min(1).max(500).default(20),
      recencyDecay: z.number().gt(0).max(1).default(0.9),
      /** Blend weight of trending next to co-occurrence (0: trending only back-fills). */
      trendingWeight: z.number().min(0).max(10).default(0),
    })
    .prefault({}),
  next: z
    .strictObject({
      seedItems: z.number().int().min(1).max(500).default(5),
      recencyDecay: z.number().gt(0).max(1).default(0.6),
      /** Blend weight of trending next to session co-occurrence (0: trending only back-fills). */
      trendingWeight: z.number().min(0).max(10).default(0),
      /** Blend weight of the other items of the last session item's creator (0: off). */
      creatorWeight: z.number().min(0).max(10).default(0.3),
    })
    .prefault({}),
  /** Re-ranking of every surface's page (src/rank/rerank.ts): diversity, creator caps, freshness, rules. */
  rerank: z
    .strictObject({
      /** MMR trade-off: 1 = relevance only, lower = more diverse pages (tags Jaccard or embeddings). */
      lambda: z.number().min(0).max(1).default(1),
      /** Most items per creator on a page; 0 = no cap. */
      creatorCap: z.number().int().min(0).max(LIMITS.maxN).default(0),
      /** Bonus for a brand-new item, relative to the best candidate's relevance (1); 0 = off. */
      freshnessWeight: z.number().min(0).max(10).default(0),
      freshnessHalfLifeMs: ms(365 * 24 * HOUR_MS).default(7 * 24 * HOUR_MS),
      /** Boost (weight > 0) or bury (weight < 0) items carrying a tag. */
      tagRules: z
        .array(z.strictObject({ tag: z.string().min(1).max(LIMITS.tagLength), weight: z.number().min(-10).max(10) }))
        .max(100)
        .default([]),
      /** One item per (creator, normalised title) on a page. */
      dedupeTitles: z.boolean().default(true),
      /** Candidates merged per page slot before re-ranking (the pool is min(2·maxN, factor·n + 20)). */
      poolFactor: z.number().min(1).max(10).default(2),
    })
    .prefault({}),
  /** Blend weights of two-tower retrieval (active once item vectors are set; 0 = off). Not tuned yet. */
  twotower: z
    .strictObject({
      homeWeight: z.number().min(0).max(10).default(0.5),
      nextWeight: z.number().min(0).max(10).default(0.3),
    })
    .prefault({}),
  /**
   * Sequential next-item candidates from the active SASRec version (source `sasrec`, once a model is
   * loaded; 0 = off). In `next` it is the first tier, scoring the current session (the latest history
   * when the session is empty, or always the whole recent history with nextContext 'history'); in `home`
   * it scores the recent history. Scores are next-item probabilities, normalised by the best in the blend.
   */
  sequential: z
    .strictObject({
      nextWeight: z.number().min(0).max(10).default(1),
      homeWeight: z.number().min(0).max(10).default(0.5),
      nextContext: z.enum(['session', 'history']).default('session'),
    })
    .prefault({}),
  /** The learned ranker (when one is set on the engine): candidates it re-scores per request. */
  ranker: z.strictObject({ poolSize: z.number().int().min(1).max(2 * LIMITS.maxN).default(200) }).prefault({}),
  /** Event types that block the item's creator for the user; follow types follow (and unblock) it. */
  creatorBlockTypes: z.array(EventType).max(20).default(['block']),
  creatorFollowTypes: z.array(EventType).max(20).default(['follow']),
  /** Per surface: exclude the user's already-consumed items (hard negatives are always excluded). */
  excludeConsumed: SurfaceFlags.prefault({}),
  /** Events per batch when warming up from the store. */
  warmBatchSize: z.number().int().min(1).max(100_000).default(5_000),
  /**
   * Event times later than now + this are replayed as now + this (warm-up, rebuilds, live). Ingest rejects
   * them already (config `ingest.maxFutureSkewMs`, which serve and demo pass here); this keeps an older
   * log that holds far-future events from dominating trending after a restart.
   */
  maxFutureSkewMs: z.number().int().min(0).max(7 * 86_400_000).default(5 * 60_000),
});
export type EngineConfigInput = z.input<typeof EngineConfig>;
export type EngineConfig = z.output<typeof EngineConfig>;

export function parseEngineConfig(input: EngineConfigInput = {}): EngineConfig {
  const r = EngineConfig.safeParse(input);
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues, 'config');
    throw new ValidationError(`invalid engine config: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}
