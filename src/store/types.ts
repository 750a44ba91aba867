/**
 * The storage seam (after Gorse's storage/data): one interface, an embedded SQLite adapter and later
 * a Postgres one, and one conformance suite run against every adapter. Methods are async so that a
 * networked adapter fits without touching callers. The store holds no business logic.
 */
import type { Event, Item, User } from '../core/schemas.js';

/** An event as read back from the append-only log: `seq` is its position in the log (1-based, increasing). */
export type StoredEvent = Event & { seq: number };

/** What a recommendation response showed, stored so later events can point back at it (requestId). */
export interface Impression {
  requestId: string;
  userId: string;
  surface: string;
  timestamp: number;
  itemIds: string[];
  /** positions[i] is the 0-based rank of itemIds[i]. */
  positions: number[];
  scores: number[];
  /** Probability that the (stochastic) policy showed each item; absent for a deterministic policy. */
  propensities?: number[];
  variant?: string;
  /** Model name -> version that produced the response. */
  modelVersions: Record<string, string>;
}

export interface WriteResult {
  /** Rows newly written or updated. */
  written: number;
  /** Rows skipped because an identical id was already stored (events only). */
  duplicates: number;
}

/** An event appendEvents refused because deleted data must stay deleted; `field` names the reason's field. */
export interface RefusedEvent {
  /** Index of the event in the appendEvents input. */
  index: number;
  field: 'id' | 'userId' | 'itemId' | 'timestamp';
  message: string;
}

/** Result of appendEvents: the counts plus the events that were new (in input order, with their seq). */
export interface AppendResult extends WriteResult {
  /** Events actually appended by this call (idempotent duplicates excluded), in input order. */
  newEvents: StoredEvent[];
  /** Events refused by a tombstone (deleted user or item, deleted event id), in input order; not counted above. */
  refused: RefusedEvent[];
}

/**
 * What a deletion leaves behind so that deleted data stays deleted. A user tombstone is `active` from the
 * deletion until the user is created again (upsertUsers); an inactive one keeps `deletedAtMs` as a
 * watermark: events of that user dated at or before it stay refused. An item tombstone lasts until the
 * item is upserted again.
 */
export interface Tombstone {
  kind: 'user' | 'item';
  id: string;
  deletedAtMs: number;
  active: boolean;
}

/** Selects events by user, item and time (`fromMs` ≤ timestamp < `toMs`); all given criteria must hold. */
export interface EventQuery {
  userId?: string;
  itemId?: string;
  fromMs?: number;
  toMs?: number;
}

export interface EventFindOptions extends EventQuery {
  /** Only events with seq > afterSeq (paging). */
  afterSeq?: number;
  /** Most events returned (1..10,000). */
  limit: number;
}

/** What to delete: explicit ids, or a query (at least one criterion; an empty selection is refused). */
export type EventDeletion = EventQuery & { ids?: string[] };

export interface EventScanOptions {
  /** Only events with seq > afterSeq. */
  afterSeq?: number;
  /** Rows per yielded batch (bounded). */
  batchSize?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending versioned migrations; idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  upsertItems(items: Item[]): Promise<WriteResult>;
  /**
   * Inserts the items whose id is not stored yet and leaves stored ones untouched (never overwrites a
   * catalog row, even one written a moment earlier by a concurrent batch). A deleted item (its tombstone)
   * is not inserted either: only upsertItems revives it. Returns the items inserted.
   */
  insertItemsIfAbsent(items: Item[]): Promise<Item[]>;
  getItem(id: string): Promise<Item | undefined>;
  getItems(ids: string[]): Promise<Map<string, Item>>;
  /**
   * Deletes the item (its past events stay in the log) and leaves an item tombstone: later events for it
   * are refused until the item is upserted again. Returns false when the item did not exist.
   */
  deleteItem(id: string, opts?: { atMs?: number }): Promise<boolean>;
  /** Pages through the catalog in id order. */
  scanItems(opts?: { afterId?: string; limit?: number }): Promise<Item[]>;
  /** Items in the catalog. O(1): a maintained count. */
  countItems(): Promise<number>;

  upsertUsers(users: User[]): Promise<WriteResult>;
  getUser(id: string): Promise<User | undefined>;
  /**
   * Deletes the user, all of their events and impressions, and leaves an active user tombstone (see
   * Tombstone; `atMs` is the deletion time, default now). Returns false when there was nothing to delete.
   */
  deleteUser(id: string, opts?: { atMs?: number }): Promise<boolean>;
  /** Users in the users table (not every id seen in an event). O(1): a maintained count. */
  countUsers(): Promise<number>;
  getTombstone(kind: Tombstone['kind'], id: string): Promise<Tombstone | undefined>;

  /**
   * Appends events in one transaction; an event whose id is already stored is skipped (idempotency). An
   * event of a tombstoned user or item, one dated at or before a re-created user's deletion, or one whose
   * id was deleted (deleteEvents) is refused and reported in `refused`.
   */
  appendEvents(events: Event[]): Promise<AppendResult>;
  /** Events matching the query, in seq order, at most `limit`. */
  findEvents(opts: EventFindOptions): Promise<StoredEvent[]>;
  /**
   * Deletes the selected events in one transaction and remembers their ids (re-sending one is refused).
   * Returns how many were deleted. Throws ValidationError for an empty selection.
   */
  deleteEvents(selection: EventDeletion, opts?: { atMs?: number }): Promise<number>;
  /** Streams the event log in seq order, in bounded batches. */
  scanEvents(opts?: EventScanOptions): AsyncIterable<StoredEvent[]>;
  /** The user's most recent events, newest first. */
  userEvents(userId: string, limit: number): Promise<StoredEvent[]>;
  /** Events in the log. O(1): a maintained count. */
  countEvents(): Promise<number>;
  /** Highest seq in the log (0 when empty). */
  lastEventSeq(): Promise<number>;

  recordImpression(imp: Impression): Promise<void>;
  getImpression(requestId: string): Promise<Impression | undefined>;

  /** Small key/value metadata (e.g. the active model version, the demo API key). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}
