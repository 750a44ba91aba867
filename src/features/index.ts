/**
 * The features stage's public door: `OnlineFeatures` holds the state every online surface reads —
 * id ↔ ix maps, the catalog view, per-user histories and sessions, and time-decayed item counters — and
 * updates it in O(1) per event. Event types map to reward weights from configuration (negative weights
 * are negative feedback); weight-0 types (impressions) count nowhere.
 */
import type { Event, Item } from '../core/schemas.js';
import { DEFAULT_EVENT_WEIGHTS } from '../core/schemas.js';
import { Catalog } from './catalog.js';
import { DecayedCounters } from './decay.js';
import { UserHistories, type HistoryConfig } from './history.js';
import { IdMap } from './idmap.js';
import { TopList } from './toplist.js';
import { ensureLength } from './arrays.js';

export { Catalog } from './catalog.js';
export { DecayedCounters } from './decay.js';
export { UserHistories, UserHistory, type HistoryConfig } from './history.js';
export { IdMap } from './idmap.js';
export { TopList } from './toplist.js';
export { ensureLength } from './arrays.js';

/** Members of the maintained trending list (a request needing more falls back to a full scan). */
const TRENDING_TOP = 8_192;

/** All-time per-item outcome counts (what the ranker's rate features read). */
export class ItemStats {
  /** positives/completes/skips/likes: [items] counts of events of that kind. */
  positives = new Float32Array(1024);
  completes = new Float32Array(1024);
  skips = new Float32Array(1024);
  likes = new Float32Array(1024);

  add(ix: number, type: string): void {
    if (ix >= this.positives.length) {
      this.positives = ensureLength(this.positives, ix + 1);
      this.completes = ensureLength(this.completes, ix + 1);
      this.skips = ensureLength(this.skips, ix + 1);
      this.likes = ensureLength(this.likes, ix + 1);
    }
    if (type === 'skip') this.skips[ix]++;
    else if (type === 'complete') this.completes[ix]++;
    else if (type === 'like' || type === 'save' || type === 'share') this.likes[ix]++;
    if (type !== 'skip' && type !== 'dislike' && type !== 'block') this.positives[ix]++;
  }

  get(a: Float32Array, ix: number): number {
    return ix < a.length ? a[ix] : 0;
  }

  /** Takes over other's counts (a rebuilt copy). */
  adopt(other: ItemStats): void {
    this.positives = other.positives;
    this.completes = other.completes;
    this.skips = other.skips;
    this.likes = other.likes;
  }
}

export interface FeaturesConfig {
  /** Reward weight per event type; unknown types weigh 0. */
  eventWeights: Readonly<Record<string, number>>;
  /** Half-life of the trending counters. */
  trendingHalfLifeMs: number;
  history: HistoryConfig;
  /** Event types that block the item's creator for the user (default ['block']). */
  creatorBlockTypes?: readonly string[];
  /** Event types that make the user follow the item's creator (default ['follow']). */
  creatorFollowTypes?: readonly string[];
}

export const DEFAULT_FEATURES_CONFIG: FeaturesConfig = {
  eventWeights: DEFAULT_EVENT_WEIGHTS,
  trendingHalfLifeMs: 24 * 3_600_000,
  history: { size: 50, sessionGapMs: 30 * 60_000, maxConsumed: 5_000, hardNegativeWeight: -2 },
};

/** An event resolved to dense indexes and its weight; reused by `resolve` (do not keep it). */
export interface ResolvedEvent {
  userIx: number;
  itemIx: number;
  weight: number;
  tMs: number;
  sessionKey: string | undefined;
  /** The event type. */
  type: string;
  /** Creator-level action the event carries, if any. */
  creatorAction: 'block' | 'follow' | undefined;
}

/**
 * The id maps and catalog a rebuilt copy shares with the live features, so every dense index (item, user,
 * creator, tag) stays the same across a rebuild and models' index tables stay valid.
 */
export interface SharedIndexes {
  catalog: Catalog;
  users: IdMap;
}

export class OnlineFeatures {
  readonly catalog: Catalog;
  readonly users: IdMap;
  readonly histories: UserHistories;
  /** Weighted, decayed engagement per item (negative feedback subtracts). */
  readonly trending: DecayedCounters;
  /** Long-window engagement (30-day half-life), for popularity over several windows. */
  readonly popularityLong = new DecayedCounters(30 * 24 * 3_600_000);
  /** Per item all-time counts: positive events, completions, skips, likes (ranker features). */
  readonly itemStats = new ItemStats();
  /** The items with the largest trending keys, kept sorted as events arrive (trending reads it, no scan). */
  readonly trendingTop = new TopList(TRENDING_TOP);
  private seenRebases = 0;
  private readonly weights: Map<string, number>;
  private readonly resolved: ResolvedEvent = { userIx: -1, itemIx: -1, weight: 0, tMs: 0, sessionKey: undefined, type: '', creatorAction: undefined };
  private readonly blockTypes: ReadonlySet<string>;
  private readonly followTypes: ReadonlySet<string>;
  eventsApplied = 0;

  constructor(readonly config: FeaturesConfig = DEFAULT_FEATURES_CONFIG, shared?: SharedIndexes) {
    this.catalog = shared?.catalog ?? new Catalog();
    this.users = shared?.users ?? new IdMap();
    this.weights = new Map(Object.entries(config.eventWeights));
    this.histories = new UserHistories(config.history);
    this.trending = new DecayedCounters(config.trendingHalfLifeMs);
    this.blockTypes = new Set(config.creatorBlockTypes ?? ['block']);
    this.followTypes = new Set(config.creatorFollowTypes ?? ['follow']);
  }

  weightOf(type: string): number {
    return this.weights.get(type) ?? 0;
  }

  upsertItem(item: Item): number {
    return this.catalog.upsert(item);
  }

  /** Maps an event to ixs (registering new ids) and its weight, without changing any counter. */
  resolve(e: Event): ResolvedEvent {
    const r = this.resolved;
    r.userIx = this.users.intern(e.userId);
    r.itemIx = this.catalog.intern(e.itemId);
    r.weight = this.weightOf(e.type);
    r.tMs = e.timestamp;
    r.sessionKey = e.sessionId;
    r.type = e.type;
    r.creatorAction = this.blockTypes.has(e.type) ? 'block' : this.followTypes.has(e.type) ? 'follow' : undefined;
    return r;
  }

  /** Applies a resolved event to history and counters. O(1). */
  apply(r: ResolvedEvent): void {
    this.eventsApplied++;
    if (r.creatorAction !== undefined) this.histories.creatorAction(r.userIx, this.catalog.creatorIx[r.itemIx], r.creatorAction);
    if (r.weight === 0) return;
    this.histories.push(r.userIx, r.itemIx, r.weight, r.tMs, r.sessionKey);
    this.trending.add(r.itemIx, r.weight, r.tMs);
    this.popularityLong.add(r.itemIx, r.weight, r.tMs);
    this.itemStats.add(r.itemIx, r.type);
    if (this.trending.rebases !== this.seenRebases) {
      this.seenRebases = this.trending.rebases;
      this.trendingTop.rebuild(this.catalog.size, (ix) => this.trending.key(ix), -Infinity);
    } else this.trendingTop.update(r.itemIx, this.trending.key(r.itemIx));
  }

  /**
   * Replaces the event-derived state (histories, counters, item stats, the trending list) with a copy
   * rebuilt from the store over the same catalog and id maps (see SharedIndexes). Synchronous: no request
   * sees a mix of the two.
   */
  adopt(other: OnlineFeatures): void {
    if (other.catalog !== this.catalog || other.users !== this.users) throw new Error('adopt: the rebuilt features must share the catalog and user ids');
    this.histories.adopt(other.histories);
    this.trending.adopt(other.trending);
    this.popularityLong.adopt(other.popularityLong);
    this.itemStats.adopt(other.itemStats);
    this.seenRebases = this.trending.rebases;
    this.trendingTop.rebuild(this.catalog.size, (ix) => this.trending.key(ix), -Infinity);
    this.eventsApplied = other.eventsApplied;
  }

  /** Forgets an item's engagement (deleted item). */
  resetItem(itemIx: number): void {
    this.trending.reset(itemIx);
    this.trendingTop.update(itemIx, 0);
  }

  /** Decayed trending value of an item at nowMs. */
  trendingAt(itemIx: number, nowMs: number): number {
    return this.trending.valueAt(itemIx, nowMs);
  }
}
