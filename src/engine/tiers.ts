/**
 * The tier table: which candidate sources answer each surface, in which order, with which quota and
 * weight. A surface reads top to bottom on one screen (see `buildTiers`):
 *
 *   home     = learned blend → [co-occurrence over the history, SASRec, two-tower, trending] → content → trending → fresh
 *   next     = learned blend → [SASRec over the session, session co-occurrence, two-tower, trending, creator]
 *              → history co-occurrence → trending → fresh
 *   similar  = co-occurrence of the item → content → same creator → trending
 *   trending = decayed engagement → fresh
 *   fresh    = newest, lightly popularity-weighted
 *
 * Bracketed tiers are the hand-weighted heuristic blend: they stand down (`gated`) while the learned blend
 * answers the request, so the page is the order the trainer validated; users the blend cannot score get
 * them as before. Tiers with weight 0 in the config are left out. The sources read the request being
 * answered from one `RequestState` the engine sets before each merge.
 */
import {
  CandidateBuffer,
  CoocSource,
  CreatorSource,
  FreshSource,
  MAX_TIERS,
  TrendingSource,
  seedsFromHistory,
  type CandidateContext,
  type CandidateSource,
  type CooccurrenceIndex,
  type MergeTier,
  type SeedConfig,
} from '../candidates/index.js';
import { EmbeddingSource } from '../candidates/embedding.js';
import { LearnedBlendSource } from '../candidates/learned.js';
import { SequentialSource, sequenceFromHistory } from '../candidates/sequential.js';
import type { Surface } from '../core/schemas.js';
import { LIMITS } from '../core/schemas.js';
import type { OnlineFeatures, UserHistory } from '../features/index.js';
import type { EngineConfig } from './config.js';

export type ServedSurface = Exclude<Surface, 'search'>;

/** The request being answered, as the tier sources see it. Set by the engine before a merge, cleared after. */
export class RequestState {
  /** The user's history (undefined: unknown or cold user). */
  history: UserHistory | undefined;
  /** The session id the request names (undefined: the user's current session). */
  sessionKey: string | undefined;
  /** Did the learned blend propose items for this request? Then the gated tiers stand down. */
  learnedServed = false;
  /** Which sequence the SASRec source reads for the tier running now: the session (next) or the history. */
  sequentialFromSession = false;
  /** Content neighbours (e.g. the search stage's content tower); undefined: the content tiers propose nothing. */
  contentSource: CandidateSource | undefined;

  /**
   * The request's session: the user's current one unless the request names a session id the user has not
   * used yet (a new, still empty session: no session seeds).
   */
  session(): UserHistory | undefined {
    const h = this.history;
    return h !== undefined && (this.sessionKey === undefined || this.sessionKey === h.sessionKey) ? h : undefined;
  }

  begin(history: UserHistory | undefined, sessionKey: string | undefined): void {
    this.history = history;
    this.sessionKey = sessionKey;
    this.learnedServed = false;
  }

  end(): void {
    this.history = undefined;
    this.learnedServed = false;
  }
}

/** A source whose seeds are set just before it runs (each tier of a merge can condition on different items). */
class Seeded implements CandidateSource {
  constructor(
    readonly name: string,
    private readonly inner: CandidateSource,
    private readonly setSeeds: (ctx: CandidateContext) => void,
  ) {}
  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    this.setSeeds(ctx);
    this.inner.candidates(ctx, n, out);
  }
}

export interface TierTable {
  tiers: Record<ServedSurface, MergeTier[]>;
  /** SASRec next-item retrieval (proposes nothing until a predictor is set). */
  sequential: SequentialSource;
  /** The learned blend of the active models (proposes nothing until a blend version is set). */
  learned: LearnedBlendSource;
  /** Newest items: also the freshness boost's candidates. */
  fresh: FreshSource;
}

/**
 * Builds every surface's tiers over the engine's online state. twotower: the engine's item-vector source
 * (empty until vectors are set). capacity: candidates a tier may return.
 */
export function buildTiers(
  config: EngineConfig,
  features: OnlineFeatures,
  coocIndex: CooccurrenceIndex,
  twotower: EmbeddingSource,
  state: RequestState,
  capacity: number,
): TierTable {
  const catalog = features.catalog;
  const Q = LIMITS.maxN; // blend tiers need n; fill tiers up to 2n (n plus items that are already placed)

  // Seeds: the recent history (home) or the session's positives, else its latest items (next).
  const historySeeds = (cfg: SeedConfig) => (ctx: CandidateContext) => seedsFromHistory(ctx, state.history, cfg, false);
  const sessionSeeds = (ctx: CandidateContext) => {
    const h = state.session();
    seedsFromHistory(ctx, h, config.next, true);
    if (ctx.seedCount === 0) seedsFromHistory(ctx, h, config.next, false); // session over or empty: latest items
  };

  // Engagement sources.
  const cooc = new CoocSource(coocIndex, capacity);
  const trending = new TrendingSource(catalog, features.trending, capacity, features.trendingTop);
  const fresh = new FreshSource(catalog, features.trending, { halfLifeMs: config.freshHalfLifeMs, popularityWeight: config.freshPopularityWeight }, capacity);
  const creator = new CreatorSource(catalog, features.trending, capacity);
  const coocHome = new Seeded('cooc', cooc, historySeeds(config.home));
  const coocSession = new Seeded('cooc-session', cooc, sessionSeeds);
  const coocSimilar = new Seeded('cooc', cooc, () => undefined); // seed set by the request
  // The creator of the session's newest positive item.
  const lastCreator = new Seeded('creator', creator, (ctx) => seedsFromHistory(ctx, state.session(), { seedItems: 1, recencyDecay: 1 }, true));

  // Learned sources. SASRec reads the session (next: the session's positives the model knows, else the
  // latest history when the session has none or is new) or the recent history (home): real time by construction.
  const nextFromSession = config.sequential.nextContext === 'session';
  const sequential: SequentialSource = new SequentialSource(capacity, (_ctx, out) => {
    const knows = sequential.knows;
    if (state.sequentialFromSession && nextFromSession) {
      const hs = state.session();
      const c = hs ? sequenceFromHistory(hs, true, out, knows) : 0;
      if (c > 0) return c;
    }
    return sequenceFromHistory(state.history, false, out, knows);
  });
  const sasrecOver = (fromSession: boolean): CandidateSource => ({
    name: 'sasrec',
    candidates: (ctx, n, out) => {
      state.sequentialFromSession = fromSession;
      sequential.candidates(ctx, n, out);
    },
  });
  const twotowerHome = new Seeded('twotower', twotower, historySeeds(config.home));
  const twotowerSession = new Seeded('twotower', twotower, sessionSeeds);
  const learned = new LearnedBlendSource(capacity, sequential, twotower, () => state.history);
  const blendTier: CandidateSource = {
    name: 'blend',
    candidates: (ctx, n, out) => {
      learned.candidates(ctx, n, out);
      state.learnedServed = out.count > 0;
    },
  };
  const gated = (source: CandidateSource): CandidateSource => ({
    name: source.name,
    candidates: (ctx, n, out) => {
      if (state.learnedServed) out.count = 0;
      else source.candidates(ctx, n, out);
    },
  });

  // Content neighbours: back-fill for items and users co-occurrence does not cover yet (cold start).
  const content: CandidateSource = {
    name: 'content',
    candidates: (ctx, n, out) => {
      if (state.contentSource) state.contentSource.candidates(ctx, n, out);
      else out.count = 0;
    },
  };
  const contentHome = new Seeded('content', content, historySeeds(config.home));

  // The table. first: a ranked tier; blend(source, w): a weighted tier, left out at weight 0; fill: back-fill.
  const first = (source: CandidateSource): MergeTier => ({ source, quota: Q, weight: 1 });
  const tier = (source: CandidateSource): MergeTier => ({ source, quota: Q });
  const blend = (source: CandidateSource, weight: number): MergeTier[] => (weight > 0 ? [{ source, quota: Q, weight }] : []);
  const fill = (source: CandidateSource): MergeTier => ({ source, quota: 2 * Q, fill: true });
  const tiers: Record<ServedSurface, MergeTier[]> = {
    home: [
      first(blendTier),
      tier(gated(coocHome)),
      ...blend(gated(sasrecOver(false)), config.sequential.homeWeight),
      ...blend(gated(twotowerHome), config.twotower.homeWeight),
      ...blend(trending, config.home.trendingWeight),
      fill(contentHome),
      fill(trending),
      fill(fresh),
    ],
    next: [
      first(blendTier),
      ...blend(gated(sasrecOver(true)), config.sequential.nextWeight),
      tier(gated(coocSession)),
      ...blend(gated(twotowerSession), config.twotower.nextWeight),
      ...blend(trending, config.next.trendingWeight),
      ...blend(gated(lastCreator), config.next.creatorWeight),
      fill(coocHome),
      fill(trending),
      fill(fresh),
    ],
    similar: [tier(coocSimilar), fill(content), fill(creator), fill(trending)],
    trending: [tier(trending), fill(fresh)],
    fresh: [tier(fresh)],
  };
  for (const [surface, t] of Object.entries(tiers)) if (t.length > MAX_TIERS) throw new Error(`surface ${surface}: ${t.length} tiers, at most ${MAX_TIERS}`);
  return { tiers, sequential, learned, fresh };
}
