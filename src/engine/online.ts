/**
 * The online engine: warms the features and candidate indexes from the store's catalog and event log,
 * keeps them current from `onItems`/`onEvents` (so the next request sees every accepted event), and
 * answers a surface in four steps:
 *
 *   1. validate the request (request.ts) and set up the filter (history, excludes) and the request state;
 *   2. merge the surface's candidate tiers (tiers.ts: the table of which sources answer which surface);
 *   3. re-order the pool with the learned ranker when one applies (ranking.ts), add fresh candidates and
 *      re-rank (diversity, caps, freshness boost);
 *   4. build the page (sources, scores, explain.ts on request) and log it as an impression (request id,
 *      positions, scores, model versions) so later events can point back at it.
 *
 * Unknown users are cold users (no history: the back-fill answers). The candidate computation is
 * synchronous between awaits, so the reused buffers are never shared by two requests in flight.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { NotFoundError, UnavailableError, ValidationError } from '../core/errors.js';
import type { Event, Item, User } from '../core/schemas.js';
import { LIMITS } from '../core/schemas.js';
import { CandidateBuffer, CooccurrenceIndex, FreshSource, Merger, MAX_TIERS, RequestFilter, singleSeed, type CandidateContext, type CandidateSource, type MergeTier } from '../candidates/index.js';
import { OnlineFeatures, ensureLength } from '../features/index.js';
import { EmbeddingSource } from '../candidates/embedding.js';
import type { SequentialSource } from '../candidates/sequential.js';
import type { LearnedBlendSource, BlendWeights } from '../candidates/learned.js';
import type { TwoTowerUserEncoder } from '../models/twotower-serve.js';
import type { SasrecPredictor } from '../models/sasrec-serve.js';
import { Reranker, rerankActive, type ItemEmbeddings } from '../rank/index.js';
import { MultiObjectiveRanker, NUM_RANK_FEATURES, RankFeatures } from '../rank/index.js';
import type { Store } from '../store/types.js';
import type { EngineConfig } from './config.js';
import { explainItem } from './explain.js';
import { PoolRanking } from './ranking.js';
import { OnlineRebuilder, applyEvents, type RebuildReport, type ReplayOptions } from './rebuild.js';
import { validateRecommendRequest } from './request.js';
import { buildTiers, RequestState, type ServedSurface } from './tiers.js';
import type { Engine, RecommendRequest, RecommendResponse, RecommendedItem } from './types.js';

/** Seeds any surface may use (≥ the configured seed counts). */
const MAX_SEEDS = 500;
const ITEM_PAGE = 1_000;
const ONLINE = 'online';

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
  private readonly freshSource: FreshSource;
  /** freshPos: [maxN] position in freshBuf of each appended fresh pool entry. */
  private readonly freshPos = new Int32Array(LIMITS.maxN);
  /** poolStamp: [items] poolStamp[ix] === poolEpoch ⇔ ix is in the merged pool of this request. */
  private poolStamp = new Uint32Array(1024);
  private poolEpoch = 0;
  /** origin: [capacity + maxN] merged position of each working-pool entry (the ranker reorders the pool). */
  private readonly origin: Int32Array;
  /** The learned ranker and its buffers. */
  private readonly ranking: PoolRanking;
  /** Two-tower item-vector retrieval (empty until setItemVectors). */
  readonly twotower = new EmbeddingSource();
  private twotowerVersion = '';
  /** SASRec next-item retrieval (proposes nothing until setSequential). */
  readonly sequential: SequentialSource;
  /** The learned blend of the active models (proposes nothing until a blend version is set). */
  readonly learned: LearnedBlendSource;
  /** The request being answered, as the tier sources read it. */
  private readonly state = new RequestState();
  /** Item vectors for embedding diversity (set by whoever loads a model); tags Jaccard otherwise. */
  embeddings: ItemEmbeddings | undefined;
  private readonly ctx: CandidateContext;
  /** window: [cooc.window] scratch for the session window of an incoming event. */
  private readonly window: Int32Array;
  private readonly tiers: Record<ServedSurface, MergeTier[]>;
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
    this.ranking = new PoolRanking(new RankFeatures(this.features, (a, b) => this.cooc.similarity(a, b)), capacity);
    this.rerankOn = rerankActive(config.rerank);
    this.ctx = {
      nowMs: 0,
      userIx: -1,
      filter: this.filter,
      seedItems: new Int32Array(MAX_SEEDS),
      seedWeights: new Float32Array(MAX_SEEDS),
      seedCount: 0,
    };
    const table = buildTiers(config, this.features, this.cooc, this.twotower, this.state, capacity);
    this.tiers = table.tiers;
    this.sequential = table.sequential;
    this.learned = table.learned;
    this.freshSource = table.fresh;
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
    validateRecommendRequest(req);
    const { surface, n } = req;
    const f = this.features;
    const catalog = f.catalog;
    let seedIx = -1;
    if (surface === 'similar') {
      seedIx = catalog.ids.get(req.itemId!);
      if (seedIx < 0 || !catalog.inCatalog(seedIx)) {
        throw new NotFoundError(`item '${req.itemId}' not found`, [{ path: 'itemId', message: 'no such item' }]);
      }
    }

    const nowMs = this.clock.nowMs();
    const userIx = req.userId ? f.users.get(req.userId) : -1;
    const h = userIx >= 0 ? f.histories.get(userIx) : undefined;
    const filter = this.filter.begin(nowMs);
    filter.excludeHistory(h, this.config.excludeConsumed[surface]);
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

    // Re-ranking chooses the page from a larger pool (diversity, caps and boosts can reach below n); the
    // learned ranker re-scores a pool of its own size. A request's diversity overrides the configured MMR
    // trade-off (and turns re-ranking on for it).
    const tiers = this.tiers[surface];
    const lambda = req.diversity !== undefined ? 1 - req.diversity : this.config.rerank.lambda;
    const rerankOn = this.rerankOn || lambda < 1;
    let pool = rerankOn ? Math.ceil(this.config.rerank.poolFactor * n) + 20 : n;
    if (this.ranking.ranker && (surface === 'home' || surface === 'next')) pool = Math.max(pool, this.config.ranker.poolSize);
    // The state is read only by this synchronous section: cleared before the impression is awaited.
    this.state.begin(h, req.sessionId);
    let items: RecommendedItem[];
    const usedSources = new Set<string>();
    try {
      const merged = this.merger.merge(ctx, tiers, Math.min(this.merger.capacity, pool));
      // A ranker re-orders only the kind of pool it was trained on (learned blend or heuristic merge).
      const ranked = this.ranking.applies(surface, this.state.learnedServed);
      // origin[k]: merged position of pool entry k (≥ merged.count: the (k - merged.count)-th fresh extra).
      const origin = this.origin;
      for (let k = 0; k < merged.count; k++) origin[k] = k;
      let poolItems = merged.items;
      let poolScores = merged.scores;
      if (ranked) {
        this.ranking.apply(h, merged, tiers, surface, nowMs, this.poolItems, this.poolScores, origin);
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
      items = new Array(count);
      const explainCtx = req.explain ? { features: f, cooc: this.cooc, history: h, seedItems: this.config.home.seedItems, nowMs } : undefined;
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
        if (explainCtx) {
          item.explanation = explainItem(explainCtx, ix, perSource, m < merged.count ? merged.scores[m] : 0, rr, k, seedIx);
          if (ranked && m < merged.count) item.explanation.ranker = this.ranking.explain(m);
        }
        items[k] = item;
      }
      if (ranked) usedSources.add('ranker');
    } finally {
      this.state.end();
    }
    return this.respond(req, surface, nowMs, items, usedSources);
  }

  /** Logs the page as an impression and answers it with the versions of the sources that proposed it. */
  private async respond(req: RecommendRequest, surface: ServedSurface, nowMs: number, items: RecommendedItem[], usedSources: Set<string>): Promise<RecommendResponse> {
    const modelVersions: Record<string, string> = {};
    for (const s of usedSources) {
      modelVersions[s.startsWith('cooc') ? 'cooc' : s] =
        s === 'ranker' ? this.ranking.version : s === 'twotower' ? this.twotowerVersion : s === 'sasrec' ? this.sequential.version : s === 'blend' ? this.learnedVersions() : ONLINE;
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
    this.state.contentSource = source;
  }

  /**
   * Serves later requests through this ranker (undefined: merged order). learnedPools: it was trained on
   * the learned blend's pools, so it re-orders only those; otherwise only heuristic pools (a linear ranker
   * does not transfer between pools whose features mean different things).
   */
  setRanker(ranker: MultiObjectiveRanker | undefined, version = 'trained', opts: { learnedPools?: boolean } = {}): void {
    this.ranking.set(ranker, version, opts.learnedPools === true);
  }

  /**
   * Training and offline evaluation of the ranker: the candidate pool a request would get (before ranking
   * and re-ranking) with its feature rows. x: [count, NUM_RANK_FEATURES]; valid until the next call.
   */
  rankingPool(userId: string, surface: Exclude<ServedSurface, 'similar'>, poolSize: number): { itemIds: string[]; x: Float32Array; count: number } {
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
    const tiers = this.tiers[surface];
    this.state.begin(h, undefined);
    try {
      const merged = this.merger.merge(ctx, tiers, Math.min(this.merger.capacity, poolSize));
      this.ranking.fill(h, merged, tiers, surface, nowMs);
      const itemIds = Array.from(merged.items.subarray(0, merged.count), (ix) => f.catalog.ids.id(ix));
      return { itemIds, x: this.ranking.x.subarray(0, merged.count * NUM_RANK_FEATURES), count: merged.count };
    } finally {
      this.state.end();
    }
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
        ...(this.ranking.ranker ? { ranker: this.ranking.version } : {}),
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sequential.set(undefined, new Int32Array(0), 0, '')?.dispose();
  }
}
