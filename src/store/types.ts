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

/** Result of appendEvents: the counts plus the events that were new (in input order, with their seq). */
export interface AppendResult extends WriteResult {
  /** Events actually appended by this call (idempotent duplicates excluded), in input order. */
  newEvents: StoredEvent[];
}

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
  getItem(id: string): Promise<Item | undefined>;
  getItems(ids: string[]): Promise<Map<string, Item>>;
  /** Returns false when the item did not exist. */
  deleteItem(id: string): Promise<boolean>;
  /** Pages through the catalog in id order. */
  scanItems(opts?: { afterId?: string; limit?: number }): Promise<Item[]>;
  countItems(): Promise<number>;

  upsertUsers(users: User[]): Promise<WriteResult>;
  getUser(id: string): Promise<User | undefined>;
  /** Deletes the user and all of their events. Returns false when the user did not exist. */
  deleteUser(id: string): Promise<boolean>;
  countUsers(): Promise<number>;

  /** Appends events in one transaction; an event whose id is already stored is skipped (idempotency). */
  appendEvents(events: Event[]): Promise<AppendResult>;
  /** Streams the event log in seq order, in bounded batches. */
  scanEvents(opts?: EventScanOptions): AsyncIterable<StoredEvent[]>;
  /** The user's most recent events, newest first. */
  userEvents(userId: string, limit: number): Promise<StoredEvent[]>;
  countEvents(): Promise<number>;
  /** Highest seq in the log (0 when empty). */
  lastEventSeq(): Promise<number>;

  recordImpression(imp: Impression): Promise<void>;
  getImpression(requestId: string): Promise<Impression | undefined>;

  /** Small key/value metadata (e.g. the active model version, the demo API key). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}
