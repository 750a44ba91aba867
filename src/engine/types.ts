/**
 * The engine facade: what `serve`, `demo` and the tests call. It owns the online state (features,
 * candidate sources, models) and the store handle; HTTP and CLI layers only validate and forward.
 */
import type { Event, Item, Surface, User } from '../core/schemas.js';
import type { Store } from '../store/types.js';

export interface RecommendRequest {
  userId: string;
  surface: Surface;
  /** Number of items to return, 1..LIMITS.maxN. */
  n: number;
  /** Item ids the caller does not want (e.g. already on screen). */
  exclude?: string[];
  /** Creators whose items must not be returned. */
  excludeCreators?: string[];
  /** Tags no returned item may carry (at most 100). */
  excludeTags?: string[];
  /** For surface `similar`: the seed item. */
  itemId?: string;
  sessionId?: string;
  explain?: boolean;
  /**
   * MMR diversity of this page in [0, 1]: 0 = relevance only, 1 = the most diverse page. Overrides the
   * configured trade-off (rerank.lambda = 1 − diversity) for this request only.
   */
  diversity?: number;
}

export interface RecommendedItem {
  itemId: string;
  score: number;
  /** Candidate sources that proposed the item, e.g. ['cooc', 'trending']. */
  sources: string[];
  /** Present when the request asked for explain=true. */
  explanation?: Record<string, unknown>;
}

export interface RecommendResponse {
  requestId: string;
  userId: string;
  surface: Surface;
  items: RecommendedItem[];
  /** Model name -> version that produced the response. */
  modelVersions: Record<string, string>;
}

export interface Engine {
  readonly store: Store;
  /** Called after items are durably written: updates online indexes (fresh, content, catalog maps). */
  onItems(items: Item[]): void;
  onItemDeleted(itemId: string): void;
  onUsers(users: User[]): void;
  onUserDeleted(userId: string): void;
  /** Called after events are durably written (duplicates already removed): updates counters at once. */
  onEvents(events: Event[]): void;
  /**
   * Rebuilds the event-derived online state from the store (after events were deleted there) and swaps
   * it in; serving continues meanwhile. Resolves with what was replayed.
   */
  rebuildOnline(): Promise<{ events: number; lastSeq: number; ms: number }>;
  /** Answers a surface and records the impression in the store. Throws NotFoundError for unknown ids where required. */
  recommend(req: RecommendRequest): Promise<RecommendResponse>;
  /** Item-to-item: the `similar` surface for anonymous callers. */
  similar(itemId: string, n: number, opts?: { userId?: string; explain?: boolean }): Promise<RecommendResponse>;
  /** Counts for /healthz and logs. */
  stats(): { items: number; users: number; events: number; modelVersions: Record<string, string> };
  close(): Promise<void>;
}
