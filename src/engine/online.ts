/**
 * The online engine: warms the features and candidate indexes from the store's catalog and event log,
 * keeps them current from `onItems`/`onEvents` (so the next request sees every accepted event), and
 * answers the surfaces by merging candidate sources:
 *
 *   home     = co-occurrence over the recent history, blended with SASRec and two-tower over it
 *              → back-fill content → trending → fresh
 *   next     = SASRec next-item over the current session (first tier), blended with session
 *              co-occurrence, two-tower and the last item's creator
 *              → back-fill home (history co-occurrence, trending, fresh)
 *   similar  = co-occurrence of the item              → back-fill same creator → trending
 *   trending = decayed engagement                     → back-fill fresh
 *   fresh    = newest, lightly popularity-weighted
 *
 * (Optional blend weights for trending in home/next are in EngineConfig.) Unknown users are cold users
 * (no history: the back-fill answers). Every response is logged as an
 * impression (request id, positions, scores, model versions) so later events can point back at it.
 * The candidate computation is synchronous between awaits, so the reused buffers are never shared by two
 * requests in flight.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { NotFoundError, UnavailableError, ValidationError } from '../core/errors.js';
import type { Event, Item, Surface, User } from '../core/schemas.js';
import { LIMITS } from '../core/schemas.js';
import {
  MAX_EXCLUDED_TAGS,
  CandidateBuffer,
  CooccurrenceIndex,
  CoocSource,
  CreatorSource,
  FreshSource,
  Merger,
  MAX_TIERS,
  RequestFilter,
  TrendingSource,
  seedsFromHistory,
  singleSeed,
  type CandidateContext,
  type CandidateSource,
  type MergeTier,
  type SeedConfig,
} from '../candidates/index.js';
import { OnlineFeatures, ensureLength, type UserHistory } from '../features/index.js';
import { EmbeddingSource } from '../candidates/embedding.js';
import { SequentialSource, sequenceFromHistory } from '../candidates/sequential.js';
import { LearnedBlendSource, type BlendWeights } from '../candidates/learned.js';
import type { TwoTowerUserEncoder } from '../models/twotower-serve.js';
import type { SasrecPredictor } from '../models/sasrec-serve.js';
import { Reranker, rerankActive, type ItemEmbeddings, type RerankResult } from '../rank/index.js';
import { MultiObjectiveRanker, NUM_RANK_FEATURES, RankFeatures, RANK_FEATURES, type PoolView } from '../rank/index.js';
import type { MergedList } from '../candidates/index.js';
import type { Store } from '../store/types.js';
import type { EngineConfig } from './config.js';
import { OnlineRebuilder, applyEvents, type RebuildReport, type ReplayOptions } from './rebuild.js';
import type { Engine, RecommendRequest, RecommendResponse, RecommendedItem } from './types.js';

const SERVED_SURFACES: ReadonlySet<string> = new Set(['home', 'next', 'similar', 'trending', 'fresh']);
/** Bound on the caller's exclude list. */
const MAX_EXCLUDE = 1_000;
/** Seeds any surface may use (≥ the configured seed counts). */
const MAX_SEEDS = 500;
const ITEM_PAGE = 1_000;
const ONLINE = 'online';

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

export class OnlineEngine implements Engine {
  readonly features: OnlineFeatures;
  readonly cooc: CooccurrenceIndex;
  private readonly filter: RequestFilter;
  private readonly merger: Merger;
  private readonly reranker: Reranker;
  private readonly rerankOn: boolean;
  /** poolItems/poolScores: [capacity + maxN] merged pool plus fresh candidates for the freshness boost. */
  private readonly poolItems: Int32Array;
  private readonly poolScores: Float32Array;
  private readonly freshBuf: CandidateBuffer;
  private freshSource!: FreshSource;
  /** freshPos: [maxN] position in freshBuf of each appended fresh pool entry. */
  private readonly freshPos = new Int32Array(LIMITS.maxN);
  /** poolStamp: [items] poolStamp[ix] === poolEpoch ⇔ ix is in the merged pool of this request. */
  private poolStamp = new Uint32Array(1024);
  private poolEpoch = 0;
  /** origin: [capacity + maxN] merged position of each working-pool entry (the ranker reorders the pool). */
  private readonly origin: Int32Array;
  private ranker: MultiObjectiveRanker | undefined;
  private contentSource: CandidateSource | undefined;
  private rankerVersion = '';
  private rankerOnLearned = false;
  private readonly rankFeatures: RankFeatures;
  /** rankX: [capacity, F] feature rows of the pool; rankScore/rankOrder: [capacity]. */
  private readonly rankX: Float32Array;
  private readonly rankScore: Float32Array;
  private readonly rankOrder: Int32Array;
  private readonly rawColumn: Float32Array[] = [];
  /** Two-tower item-vector retrieval (empty until setItemVectors). */
  readonly twotower = new EmbeddingSource();
  private twotowerVersion = '';
  /** SASRec next-item retrieval (proposes nothing until setSequential). */
  readonly sequential: SequentialSource;
  /** The learned blend of the active models (proposes nothing until a blend version is set). */
  readonly learned: LearnedBlendSource;
  /** Did the learned blend propose items for the request being answered? Then the heuristic blend tiers stand down. */
  private learnedServed = false;
  /** Which sequence the sasrec source reads for the tier running now: the session (next) or the history. */
  private sequentialFromSession = false;
  /** Item vectors for embedding diversity (set by whoever loads a model); tags Jaccard otherwise. */
  embeddings: ItemEmbeddings | undefined;
  private readonly ctx: CandidateContext;
  /** window: [cooc.window] scratch for the session window of an incoming event. */
  private readonly window: Int32Array;
  private readonly tiers: Record<Exclude<Surface, 'search'>, MergeTier[]>;
  /** The history of the request being answered (read by the seeded sources). */
  private current: UserHistory | undefined;
  private currentSessionKey: string | undefined;
  private closed = false;
  /** Rebuilds histories, counters and co-occurrences from the store after deletions (rebuild.ts). */
  private readonly rebuilder: OnlineRebuilder;

  constructor(
    readonly store: Store,
    readonly config: EngineConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.features = new OnlineFeatures({
      eventWeights: config.eventWeights,
      trendingHalfLifeMs: config.trendingHalfLifeMs,
      creatorBlockTypes: config.creatorBlockTypes,
      creatorFollowTypes: config.creatorFollowTypes,
      history: {
        size: config.historySize,
        sessionGapMs: config.sessionGapMs,
        maxConsumed: config.maxConsumedPerUser,
        hardNegativeWeight: config.hardNegativeWeight,
      },
    });
    this.cooc = new CooccurrenceIndex(config.cooc);
    this.window = new Int32Array(config.cooc.window);
    const capacity = 2 * LIMITS.maxN; // a fill tier may need n + (items already placed) candidates
    const catalog = this.features.catalog;
    this.filter = new RequestFilter(catalog);
    this.merger = new Merger(capacity);
    // The pool may grow by up to maxN fresh candidates (freshness boost), hence the larger capacity.
    this.reranker = new Reranker(catalog, config.rerank, capacity + LIMITS.maxN);
    this.poolItems = new Int32Array(capacity + LIMITS.maxN);
    this.poolScores = new Float32Array(capacity + LIMITS.maxN);
    this.freshBuf = new CandidateBuffer(LIMITS.maxN);
    this.origin = new Int32Array(capacity + LIMITS.maxN);
    this.rankFeatures = new RankFeatures(this.features, (a, b) => this.cooc.similarity(a, b));
    this.rankX = new Float32Array(capacity * NUM_RANK_FEATURES);
    this.rankScore = new Float32Array(capacity);
    this.rankOrder = new Int32Array(capacity);
    for (let t = 0; t < MAX_TIERS; t++) this.rawColumn.push(new Float32Array(capacity));
    this.rerankOn = rerankActive(config.rerank);
    this.ctx = {
      nowMs: 0,
      userIx: -1,
      filter: this.filter,
      seedItems: new Int32Array(MAX_SEEDS),
      seedWeights: new Float32Array(MAX_SEEDS),
      seedCount: 0,
    };
    const cooc = new CoocSource(this.cooc, capacity);
    const trending = new TrendingSource(catalog, this.features.trending, capacity, this.features.trendingTop);
    const fresh = new FreshSource(catalog, this.features.trending, { halfLifeMs: config.freshHalfLifeMs, popularityWeight: config.freshPopularityWeight }, capacity);
    this.freshSource = fresh;
    const creator = new CreatorSource(catalog, this.features.trending, capacity);
    const historySeeds = (cfg: SeedConfig) => (ctx: CandidateContext) => seedsFromHistory(ctx, this.current, cfg, false);
    const home = new Seeded('cooc', cooc, historySeeds(config.home));
    // The request's session: the user's current one unless the request names a session id the user has
    // not used yet (a new, still empty session: no session seeds).
    const sessionHistory = (): UserHistory | undefined => {
      const h = this.current;
      return h !== undefined && (this.currentSessionKey === undefined || this.currentSessionKey === h.sessionKey) ? h : undefined;
    };
    const session = new Seeded('cooc-session', cooc, (ctx) => {
      const h = sessionHistory();
      seedsFromHistory(ctx, h, config.next, true);
      if (ctx.seedCount === 0) seedsFromHistory(ctx, h, config.next, false); // session over or empty: latest items
    });
    const similar = new Seeded('cooc', cooc, () => undefined); // seed set by the request
    // SASRec over the session (next: the session's positives the model knows, else the latest history when
    // the session has none or is new) or over the recent history (home). Reads the live history: real time
    // by construction.
    const nextFromSession = config.sequential.nextContext === 'session';
    this.sequential = new SequentialSource(capacity, (_ctx, out) => {
      const knows = this.sequential.knows;
      if (this.sequentialFromSession && nextFromSession) {
        const hs = sessionHistory();
        const c = hs ? sequenceFromHistory(hs, true, out, knows) : 0;
        if (c > 0) return c;
      }
      return sequenceFromHistory(this.current, false, out, knows);
    });
    const sequentialTier = (fromSession: boolean): CandidateSource => ({
      name: 'sasrec',
      candidates: (ctx, n, out) => {
        this.sequentialFromSession = fromSession;
        this.sequential.candidates(ctx, n, out);
      },
    });
    const seqNext = sequentialTier(true);
    const seqHome = sequentialTier(false);
    // The learned blend is the first tier of home and next; while it answers a request, the hand-weighted
    // heuristic blend tiers (co-occurrence, single-model sources) stand down and only the back-fill runs,
    // so the page is the order the trainer validated. Users it cannot score (no known history) get the
    // heuristic tiers as before.
    this.learned = new LearnedBlendSource(capacity, this.sequential, this.twotower, () => this.current);
    const learnedTier: CandidateSource = {
      name: 'blend',
      candidates: (ctx, n, out) => {
        this.learned.candidates(ctx, n, out);
        this.learnedServed = out.count > 0;
      },
    };
    const gated = (source: CandidateSource): CandidateSource => ({
      name: source.name,
      candidates: (ctx, n, out) => {
        if (this.learnedServed) out.count = 0;
        else source.candidates(ctx, n, out);
      },
    });
    // Quotas: blend tiers need n; fill tiers up to 2n (n plus items that are already placed).
    const Q = LIMITS.maxN;
    const blend = (source: CandidateSource, weight: number): MergeTier[] => (weight > 0 ? [{ source, quota: Q, weight }] : []);
    // Two-tower retrieval over the history (home) or the session (next); proposes nothing until vectors are set.
    const embHome = new Seeded('twotower', this.twotower, historySeeds(config.home));
    const embNext = new Seeded('twotower', this.twotower, (ctx) => {
      const h = sessionHistory();
      seedsFromHistory(ctx, h, config.next, true);
      if (ctx.seedCount === 0) seedsFromHistory(ctx, h, config.next, false);
    });
    // The creator of the session's newest positive item (next).
    const lastCreator = new Seeded('creator', creator, (ctx) => seedsFromHistory(ctx, sessionHistory(), { seedItems: 1, recencyDecay: 1 }, true));
    // Content neighbours (set by setContentSource, e.g. the search stage's content tower): back-fill for
    // items and users co-occurrence does not cover yet (cold start), before popularity.
    const content: CandidateSource = {
      name: 'content',
      candidates: (ctx, n, out) => {
        if (this.contentSource) this.contentSource.candidates(ctx, n, out);
        else out.count = 0;
      },
    };
    const contentHome = new Seeded('content', content, historySeeds(config.home));
    const contentSimilar = content; // the request's single seed is already in the context
    this.tiers = {
      home: [
        { source: learnedTier, quota: Q, weight: 1 },
        { source: gated(home), quota: Q },
        ...blend(gated(seqHome), config.sequential.homeWeight),
        ...blend(gated(embHome), config.twotower.homeWeight),
        ...blend(trending, config.home.trendingWeight),
        { source: contentHome, quota: 2 * Q, fill: true },
        { source: trending, quota: 2 * Q, fill: true },
        { source: fresh, quota: 2 * Q, fill: true },
      ],
      next: [
        { source: learnedTier, quota: Q, weight: 1 },
        ...blend(gated(seqNext), config.sequential.nextWeight),
        { source: gated(session), quota: Q },
        ...blend(gated(embNext), config.twotower.nextWeight),
        ...blend(trending, config.next.trendingWeight),
        ...blend(gated(lastCreator), config.next.creatorWeight),
        { source: home, quota: 2 * Q, fill: true },
        { source: trending, quota: 2 * Q, fill: true },
        { source: fresh, quota: 2 * Q, fill: true },
      ],
      similar: [
        { source: similar, quota: Q },
        { source: contentSimilar, quota: 2 * Q, fill: true },
        { source: creator, quota: 2 * Q, fill: true },
        { source: trending, quota: 2 * Q, fill: true },
      ],
      trending: [{ source: trending, quota: Q }, { source: fresh, quota: 2 * Q, fill: true }],
      fresh: [{ source: fresh, quota: Q }],
    };
    for (const t of Object.values(this.tiers)) if (t.length > MAX_TIERS) throw new Error('too many tiers');
    this.rebuilder = new OnlineRebuilder({
      store,
      features: this.features,
      cooc: this.cooc,
      warmBatchSize: config.warmBatchSize,
      emptyState: () => ({
        features: new OnlineFeatures(this.features.config, { catalog: this.features.catalog, users: this.features.users }),
        cooc: new CooccurrenceIndex(config.cooc),
      }),
      replayOptions: (skip) => this.replayOptions(skip),
    });
  }

  private replayOptions(skipThroughSeq: number): ReplayOptions {
    return { window: this.window, windowMs: this.config.cooc.windowMs, maxTimeMs: this.clock.nowMs() + this.config.maxFutureSkewMs, skipThroughSeq };
  }

  /**
   * Replays the store's event log into fresh online state and swaps it in (see rebuild.ts): after events
   * were deleted from the store, the counters, histories and co-occurrences no longer hold them. Serving
   * continues meanwhile; concurrent calls share at most one extra replay.
   */
  rebuildOnline(): Promise<RebuildReport> {
    return this.rebuilder.rebuild();
  }

  /** Loads the catalog and replays the event log (in seq order, bounded batches). */
  async warm(): Promise<{ items: number; events: number; lastSeq: number }> {
    let afterId: string | undefined;
    let items = 0;
    while (true) {
      const page = await this.store.scanItems({ afterId, limit: ITEM_PAGE });
      if (page.length === 0) break;
      this.onItems(page);
      items += page.length;
      afterId = page[page.length - 1].id;
      if (page.length < ITEM_PAGE) break;
    }
    let events = 0;
    let lastSeq = 0;
    for await (const batch of this.store.scanEvents({ batchSize: this.config.warmBatchSize })) {
      this.onEvents(batch);
      events += batch.length;
      lastSeq = batch[batch.length - 1].seq;
    }
    return { items, events, lastSeq };
  }

  onItems(items: Item[]): void {
    for (const it of items) this.features.upsertItem(it);
  }

  onItemDeleted(itemId: string): void {
    const catalog = this.features.catalog;
    if (!catalog.remove(itemId)) return;
    const ix = catalog.ids.get(itemId);
    this.features.resetItem(ix);
    this.cooc.dropItem(ix);
  }

  onUsers(users: User[]): void {
    for (const u of users) this.features.users.intern(u.id);
  }

  onUserDeleted(userId: string): void {
    const ix = this.features.users.get(userId);
    if (ix >= 0) this.features.histories.clear(ix);
  }

  onEvents(events: Event[]): void {
    this.rebuilder.observe(events);
    applyEvents(this, events, this.replayOptions(this.rebuilder.skipThroughSeq));
  }

  async recommend(req: RecommendRequest): Promise<RecommendResponse> {
    if (this.closed) throw new UnavailableError('engine is closed');
    const { surface, n } = req;
    if (!SERVED_SURFACES.has(surface)) {
      throw new ValidationError(`surface '${surface}' is not served by the recommendation engine`, [
        { path: 'surface', message: `must be one of ${[...SERVED_SURFACES].join(', ')}` },
      ]);
    }
    if (!Number.isInteger(n) || n < 1 || n > LIMITS.maxN) {
      throw new ValidationError(`n must be an integer in 1..${LIMITS.maxN}`, [{ path: 'n', message: `must be an integer in 1..${LIMITS.maxN}` }]);
    }
    if (req.exclude && req.exclude.length > MAX_EXCLUDE) {
      throw new ValidationError(`exclude holds at most ${MAX_EXCLUDE} ids`, [{ path: 'exclude', message: `at most ${MAX_EXCLUDE} ids` }]);
    }
    if (req.excludeCreators && req.excludeCreators.length > MAX_EXCLUDE) {
      throw new ValidationError(`excludeCreators holds at most ${MAX_EXCLUDE} ids`, [{ path: 'excludeCreators', message: `at most ${MAX_EXCLUDE} ids` }]);
    }
    if (req.diversity !== undefined && !(req.diversity >= 0 && req.diversity <= 1)) {
      throw new ValidationError('diversity must be in [0, 1]', [{ path: 'diversity', message: `must be a number in [0, 1], got ${req.diversity}` }]);
    }
    if (req.excludeTags && req.excludeTags.length > MAX_EXCLUDED_TAGS) {
      throw new ValidationError(`excludeTags holds at most ${MAX_EXCLUDED_TAGS} tags`, [{ path: 'excludeTags', message: `at most ${MAX_EXCLUDED_TAGS} tags` }]);
    }
    const f = this.features;
    const catalog = f.catalog;
    let seedIx = -1;
    if (surface === 'similar') {
      if (req.itemId === undefined) throw new ValidationError('surface similar needs itemId', [{ path: 'itemId', message: 'required for surface similar' }]);
      seedIx = catalog.ids.get(req.itemId);
      if (seedIx < 0 || !catalog.inCatalog(seedIx)) {
        throw new NotFoundError(`item '${req.itemId}' not found`, [{ path: 'itemId', message: 'no such item' }]);
      }
    }

    const nowMs = this.clock.nowMs();
    const userIx = req.userId ? f.users.get(req.userId) : -1;
    const h = userIx >= 0 ? f.histories.get(userIx) : undefined;
    const filter = this.filter.begin(nowMs);
    filter.excludeHistory(h, this.config.excludeConsumed[surface as keyof EngineConfig['excludeConsumed']]);
    for (const id of req.exclude ?? []) filter.exclude(catalog.ids.get(id));
    for (const id of req.excludeCreators ?? []) filter.excludeCreator(catalog.creators.get(id));
    for (const tag of req.excludeTags ?? []) filter.excludeTag(catalog.tags.get(tag));
    const ctx = this.ctx;
    ctx.nowMs = nowMs;
    ctx.userIx = userIx;
    ctx.seedCount = 0;
    if (seedIx >= 0) {
      filter.exclude(seedIx);
      singleSeed(ctx, seedIx);
    }
    this.current = h;
    this.currentSessionKey = req.sessionId;

    const tiers = this.tiers[surface as Exclude<Surface, 'search'>];
    // Re-ranking chooses the page from a larger pool (diversity, caps and boosts can reach below n); the
    // learned ranker re-scores a pool of its own size.
    // A request's diversity overrides the configured MMR trade-off (and turns re-ranking on for it).
    const lambda = req.diversity !== undefined ? 1 - req.diversity : this.config.rerank.lambda;
    const rerankOn = this.rerankOn || lambda < 1;
    let pool = rerankOn ? Math.ceil(this.config.rerank.poolFactor * n) + 20 : n;
    // The ranker personalises the feeds it was trained on (home, next); trending, fresh and similar keep
    // their defined orders.
    let ranked = this.ranker !== undefined && (surface === 'home' || surface === 'next');
    if (ranked) pool = Math.max(pool, this.config.ranker.poolSize);
    this.learnedServed = false;
    const merged = this.merger.merge(ctx, tiers, Math.min(this.merger.capacity, pool));
    // A ranker re-orders only the kind of pool it was trained on (learned blend or heuristic merge).
    if (this.learnedServed !== this.rankerOnLearned) ranked = false;
    this.learnedServed = false;
    // origin[k]: merged position of pool entry k (≥ merged.count: the (k - merged.count)-th fresh extra).
    const origin = this.origin;
    for (let k = 0; k < merged.count; k++) origin[k] = k;
    let poolItems = merged.items;
    let poolScores = merged.scores;
    if (ranked) {
      this.applyRanker(h, merged, tiers, surface, nowMs);
      poolItems = this.poolItems;
      poolScores = this.poolScores;
    }
    const extra = rerankOn && this.config.rerank.freshnessWeight > 0 && surface !== 'fresh' && surface !== 'similar' ? this.addFresh(poolItems, poolScores, merged.count, n) : 0;
    if (extra > 0) {
      poolItems = this.poolItems;
      poolScores = this.poolScores;
    }
    const rr = rerankOn ? this.reranker.rerank(poolItems, poolScores, merged.count + extra, n, nowMs, this.embeddings, lambda) : undefined;
    const count = rr ? rr.count : Math.min(n, merged.count);
    const items: RecommendedItem[] = new Array(count);
    const usedSources = new Set<string>();
    for (let k = 0; k < count; k++) {
      const p = rr ? rr.poolPos[k] : k;
      const m = p < merged.count ? origin[p] : p;
      const ix = poolItems[p];
      const sources: string[] = [];
      const perSource: Record<string, number> = {};
      if (m >= merged.count) {
        sources.push('fresh');
        perSource.fresh = this.freshBuf.scores[this.freshPos[m - merged.count]];
        usedSources.add('fresh');
      }
      for (let t = 0; m < merged.count && t < tiers.length; t++) {
        if (!(merged.sourceMask[m] & (1 << t))) continue;
        const name = merged.sourceNames[t];
        if (!sources.includes(name)) sources.push(name);
        perSource[name] = merged.rawScores[m * MAX_TIERS + t];
        usedSources.add(name);
      }
      const item: RecommendedItem = { itemId: catalog.ids.id(ix), score: rr ? rr.score[k] : poolScores[p], sources };
      if (req.explain) {
        item.explanation = this.explain(ix, perSource, m < merged.count ? merged.scores[m] : 0, rr, k, surface === 'similar' ? seedIx : -1, nowMs);
        if (ranked && m < merged.count) (item.explanation as Record<string, unknown>).ranker = this.explainRanker(m);
      }
      items[k] = item;
    }
    if (ranked) usedSources.add('ranker');
    this.current = undefined;

    const modelVersions: Record<string, string> = {};
    for (const s of usedSources) {
      modelVersions[s.startsWith('cooc') ? 'cooc' : s] =
        s === 'ranker' ? this.rankerVersion : s === 'twotower' ? this.twotowerVersion : s === 'sasrec' ? this.sequential.version : s === 'blend' ? this.learnedVersions() : ONLINE;
    }
    const requestId = randomUUID();
    await this.store.recordImpression({
      requestId,
      userId: req.userId,
      surface,
      timestamp: nowMs,
      itemIds: items.map((i) => i.itemId),
      positions: items.map((_, k) => k),
      scores: items.map((i) => i.score),
      modelVersions,
    });
    return { requestId, userId: req.userId, surface, items, modelVersions };
  }

  /**
   * Item vectors (e.g. the active two-tower model's item tower), rows aligned with itemIds: they feed the
   * `twotower` candidate source and embedding diversity in re-ranking. Ids the catalog does not know are
   * ignored. Rows must be unit-normalised.
   */
  setItemVectors(itemIds: readonly string[], vectors: Float32Array, version: string): void {
    if (itemIds.length === 0 || vectors.length % itemIds.length !== 0) {
      throw new ValidationError(`item vectors: ${vectors.length} floats do not split into ${itemIds.length} rows`, [{ path: 'vectors', message: 'length must be items × dim' }]);
    }
    const dim = vectors.length / itemIds.length;
    const ids = this.features.catalog.ids;
    const itemOfRow = Int32Array.from(itemIds, (id) => ids.get(id));
    this.twotower.set(vectors, dim, itemOfRow, this.features.catalog.size);
    this.twotowerVersion = version;
    const src = this.twotower;
    this.embeddings = { dim, data: vectors, rowOf: (ix) => src.rowOf(ix) };
  }

  /**
   * Serves the `sasrec` source from this predictor (undefined: off). itemIds: [predictor.numItems] the
   * external id of each model item; ids the engine does not know are never proposed. The previous
   * predictor is disposed (requests run synchronously between awaits, so none is using it).
   */
  setSequential(predictor: SasrecPredictor | undefined, itemIds: readonly string[], version: string): void {
    const ids = this.features.catalog.ids;
    const itemOfRow = Int32Array.from(itemIds, (id) => ids.get(id));
    const old = this.sequential.set(predictor, itemOfRow, this.features.catalog.size, version);
    if (old && old !== predictor) void old.dispose();
  }

  /** Serves the learned blend with these member weights (a `blend` registry version). */
  setBlend(weights: BlendWeights, version: string): void {
    this.learned.setWeights(weights, version);
  }

  /** The two-tower user tower for the learned blend (rows aligned with setItemVectors' rows); undefined: off. */
  setUserTower(encoder: TwoTowerUserEncoder | undefined): void {
    this.learned.setUserTower(encoder);
  }

  /** "blend@v2(sasrec@v3,twotower@v1)": the blend version and the member versions it mixed. */
  private learnedVersions(): string {
    const members: string[] = [];
    if (this.sequential.ready) members.push(this.sequential.version);
    if (this.twotower.ready) members.push(this.twotowerVersion);
    return `${this.learned.version}(${members.join(',')})`;
  }

  /** A content-based source (proposes items like the seed items) used as back-fill on home and similar. */
  setContentSource(source: CandidateSource | undefined): void {
    this.contentSource = source;
  }

  /**
   * Serves later requests through this ranker (undefined: merged order). learnedPools: it was trained on
   * the learned blend's pools, so it re-orders only those; otherwise only heuristic pools (a linear ranker
   * does not transfer between pools whose features mean different things).
   */
  setRanker(ranker: MultiObjectiveRanker | undefined, version = 'trained', opts: { learnedPools?: boolean } = {}): void {
    this.ranker = ranker;
    this.rankerVersion = version;
    this.rankerOnLearned = opts.learnedPools === true;
  }

  /** The merged pool as the ranker sees it: per distinct source name, its raw scores and best score. */
  private poolView(merged: MergedList, tiers: MergeTier[]): PoolView {
    const sources: PoolView['sources'] = [];
    const seen = new Map<string, number>();
    for (let t = 0; t < tiers.length; t++) {
      const name = merged.sourceNames[t];
      let col = seen.get(name);
      if (col === undefined) {
        col = sources.length;
        seen.set(name, col);
        const raw = this.rawColumn[col];
        raw.fill(NaN, 0, merged.count);
        sources.push({ name, raw, best: 0 });
      }
      const src = sources[col];
      for (let k = 0; k < merged.count; k++) {
        const v = merged.rawScores[k * MAX_TIERS + t];
        if (Number.isNaN(v) || !Number.isNaN(src.raw[k])) continue;
        src.raw[k] = v;
        if (v > src.best) src.best = v;
      }
    }
    return { count: merged.count, items: merged.items, merged: merged.scores, sources };
  }

  /**
   * Scores the merged pool with the learned ranker and writes it, best first, into poolItems/poolScores
   * (scores mapped to (0, 1] by exp(s − best), order-preserving, so re-ranking treats them like merge
   * scores) with origin[] pointing back at the merged positions.
   */
  private applyRanker(h: UserHistory | undefined, merged: MergedList, tiers: MergeTier[], surface: string, nowMs: number): void {
    const ranker = this.ranker!;
    const m = merged.count;
    this.rankFeatures.fill(h, this.poolView(merged, tiers), surface, nowMs, this.rankX);
    ranker.score(this.rankX, m, this.rankScore);
    const order = this.rankOrder.subarray(0, m);
    for (let k = 0; k < m; k++) order[k] = k;
    const sc = this.rankScore;
    order.sort((a, b) => sc[b] - sc[a] || a - b);
    const best = m > 0 ? sc[order[0]] : 0;
    for (let k = 0; k < m; k++) {
      const o = order[k];
      this.origin[k] = o;
      this.poolItems[k] = merged.items[o];
      this.poolScores[k] = Math.exp(sc[o] - best);
    }
  }

  /** The ranker's view of merged position m: predicted outcome probabilities and the main features. */
  private explainRanker(m: number): Record<string, unknown> {
    const ranker = this.ranker!;
    const F = NUM_RANK_FEATURES;
    const outcomes: Record<string, number> = {};
    ranker.config.outcomes.forEach((o, k) => (outcomes[o] = Math.round(ranker.probability(this.rankX, m, k) * 1e4) / 1e4));
    // Main features: largest |standardised value × weight| for the first outcome.
    const contrib = Array.from({ length: F }, (_, j) => ({
      feature: RANK_FEATURES[j],
      value: Math.round(this.rankX[m * F + j] * 1e4) / 1e4,
      contribution: Math.round(ranker.w[j] * (this.rankX[m * F + j] - ranker.mean[j]) * ranker.invStd[j] * 1e4) / 1e4,
    }));
    contrib.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    return { score: Math.round(this.rankScore[m] * 1e4) / 1e4, outcomes, mainFeatures: contrib.slice(0, 5) };
  }

  /**
   * Training and offline evaluation of the ranker: the candidate pool a request would get (before ranking
   * and re-ranking) with its feature rows. x: [count, NUM_RANK_FEATURES]; valid until the next call.
   */
  rankingPool(userId: string, surface: Exclude<Surface, 'search' | 'similar'>, poolSize: number): { itemIds: string[]; x: Float32Array; count: number } {
    const f = this.features;
    const nowMs = this.clock.nowMs();
    const userIx = f.users.get(userId);
    const h = userIx >= 0 ? f.histories.get(userIx) : undefined;
    const filter = this.filter.begin(nowMs);
    filter.excludeHistory(h, this.config.excludeConsumed[surface]);
    const ctx = this.ctx;
    ctx.nowMs = nowMs;
    ctx.userIx = userIx;
    ctx.seedCount = 0;
    this.current = h;
    this.currentSessionKey = undefined;
    const tiers = this.tiers[surface];
    this.learnedServed = false;
    const merged = this.merger.merge(ctx, tiers, Math.min(this.merger.capacity, poolSize));
    this.learnedServed = false;
    this.rankFeatures.fill(h, this.poolView(merged, tiers), surface, nowMs, this.rankX);
    this.current = undefined;
    const itemIds = Array.from(merged.items.subarray(0, merged.count), (ix) => f.catalog.ids.id(ix));
    return { itemIds, x: this.rankX.subarray(0, merged.count * NUM_RANK_FEATURES), count: merged.count };
  }

  /**
   * Appends the newest servable items the merge did not propose (relevance 0) to the pool, so the freshness
   * boost can lift a brand-new item that no engagement-based source knows yet. Returns how many.
   */
  private addFresh(items: Int32Array, scores: Float32Array, m: number, n: number): number {
    if (items !== this.poolItems) {
      this.poolItems.set(items.subarray(0, m));
      this.poolScores.set(scores.subarray(0, m));
    }
    const buf = this.freshBuf;
    this.freshSource.candidates(this.ctx, Math.min(buf.capacity, Math.ceil(n / 2)), buf);
    this.poolStamp = ensureLength(this.poolStamp, this.features.catalog.size);
    if (++this.poolEpoch === 0xffffffff) {
      this.poolStamp.fill(0);
      this.poolEpoch = 1;
    }
    for (let k = 0; k < m; k++) this.poolStamp[this.poolItems[k]] = this.poolEpoch;
    let extra = 0;
    for (let j = 0; j < buf.count; j++) {
      const ix = buf.items[j];
      if (this.poolStamp[ix] === this.poolEpoch) continue;
      this.poolItems[m + extra] = ix;
      this.poolScores[m + extra] = 0;
      this.freshPos[extra++] = j;
    }
    return extra;
  }

  /**
   * Why an item is on the page: its per-source scores, how the merge and the re-rank scored it, the main
   * features behind it (age, trending, creator relation, tags) and, for co-occurrence, the seed items that
   * contributed most ("because you played …").
   */
  private explain(
    ix: number,
    perSource: Record<string, number>,
    mergedScore: number,
    rr: RerankResult | undefined,
    k: number,
    seedIx: number,
    nowMs: number,
  ): Record<string, unknown> {
    const f = this.features;
    const cat = f.catalog;
    const round = (x: number): number => Math.round(x * 1e6) / 1e6;
    const scores: Record<string, number> = {};
    for (const [name, v] of Object.entries(perSource)) scores[name] = round(v);
    const creatorIx = cat.creatorIx[ix];
    const h = this.current;
    const tags: string[] = [];
    for (let p = cat.tagStart[ix], e = p + cat.tagCount[ix]; p < e && tags.length < 10; p++) tags.push(cat.tags.id(cat.tagPool[p]));
    const features: Record<string, unknown> = {
      ageHours: round(Math.max(0, nowMs - cat.createdAtMs[ix]) / 3_600_000),
      trending: round(f.trendingAt(ix, nowMs)),
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
    const seeds = seedIx >= 0 ? [seedIx] : this.explainSeeds();
    const because: { itemId: string; similarity: number }[] = [];
    for (const s of seeds) {
      const sim = this.cooc.similarity(s, ix);
      if (sim > 0) because.push({ itemId: cat.ids.id(s), similarity: round(sim) });
    }
    because.sort((a, b) => b.similarity - a.similarity);
    out.because = because.slice(0, 3);
    return out;
  }

  private explainSeeds(): number[] {
    const h = this.current;
    if (!h) return [];
    const seen = new Set<number>();
    for (let k = 0; k < h.length && seen.size < this.config.home.seedItems; k++) {
      const s = h.slot(k);
      if (h.weights[s] > 0) seen.add(h.items[s]);
    }
    return [...seen];
  }

  similar(itemId: string, n: number, opts: { userId?: string; explain?: boolean } = {}): Promise<RecommendResponse> {
    return this.recommend({ userId: opts.userId ?? '', surface: 'similar', itemId, n, explain: opts.explain });
  }

  stats(): { items: number; users: number; events: number; modelVersions: Record<string, string> } {
    return {
      items: this.features.catalog.count,
      users: this.features.users.size,
      events: this.features.eventsApplied,
      modelVersions: {
        cooc: ONLINE, trending: ONLINE, fresh: ONLINE, creator: ONLINE,
        ...(this.sequential.ready ? { sasrec: this.sequential.version } : {}),
        ...(this.twotower.ready ? { twotower: this.twotowerVersion } : {}),
        ...(this.learned.ready ? { blend: this.learned.version } : {}),
        ...(this.ranker ? { ranker: this.rankerVersion } : {}),
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sequential.set(undefined, new Int32Array(0), 0, '')?.dispose();
  }
}
