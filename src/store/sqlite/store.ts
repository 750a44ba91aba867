/**
 * Embedded default store on SQLite (better-sqlite3). Calls are synchronous under the async `Store`
 * facade: SQLite in-process answers in microseconds, so awaiting a thread pool would only add latency.
 *
 * Durability: WAL journal with `synchronous=NORMAL`. A committed transaction survives a crash of this
 * process; on power loss or an OS crash the last transactions before the failure may be lost (the
 * database stays consistent). Every write method is one transaction with prepared statements, so a
 * batch is written entirely or not at all.
 *
 * Event log: `events.seq` is an INTEGER PRIMARY KEY (the rowid, so appends are in key order) and
 * `events.id` is UNIQUE; appends use INSERT ... ON CONFLICT(id) DO NOTHING so a retried batch stores nothing twice and
 * reports the repeats as duplicates.
 */
import Database from 'better-sqlite3';
import type { Event, Item, User } from '../../core/schemas.js';
import { ValidationError } from '../../core/errors.js';
import type {
  AppendResult,
  EventDeletion,
  EventFindOptions,
  EventQuery,
  EventScanOptions,
  Impression,
  RefusedEvent,
  Store,
  StoredEvent,
  Tombstone,
  WriteResult,
} from '../types.js';
import { checkEventDeletion, refusalOf, type TombstoneLookup } from '../tombstones.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { ImpressionWriter, type ImpressionValues } from './impression-writer.js';

/** Bounds on pages read in one call. */
/** Impression write batching (see recordImpression). */
const IMPRESSION_FLUSH_MS = 50;
const IMPRESSION_QUEUE_MAX = 1_000;
const SCAN_LIMITS = { defaultBatch: 1_000, maxBatch: 10_000, maxItemsPage: 10_000, maxUserEvents: 10_000 } as const;

interface ItemRow {
  id: string;
  creator_id: string | null;
  title: string;
  text: string;
  tags: string;
  attributes: string;
  created_at: number;
  available: number;
  expires_at: number | null;
}

interface UserRow {
  id: string;
  attributes: string;
  created_at: number;
}

interface EventRow {
  seq: number;
  id: string;
  user_id: string;
  item_id: string;
  type: string;
  value: number | null;
  ts: number;
  session_id: string | null;
  surface: string | null;
  request_id: string | null;
  position: number | null;
  context: string | null;
}

interface ImpressionRow {
  request_id: string;
  user_id: string;
  surface: string;
  ts: number;
  variant: string | null;
  item_ids: string;
  positions: string;
  scores: string;
  propensities: string | null;
  model_versions: string;
}

function itemFromRow(r: ItemRow): Item {
  const item: Item = {
    id: r.id,
    title: r.title,
    text: r.text,
    tags: JSON.parse(r.tags) as string[],
    attributes: JSON.parse(r.attributes) as Item['attributes'],
    createdAt: r.created_at,
    available: r.available === 1,
  };
  if (r.creator_id !== null) item.creatorId = r.creator_id;
  if (r.expires_at !== null) item.expiresAt = r.expires_at;
  return item;
}

function eventFromRow(r: EventRow): StoredEvent {
  const e: StoredEvent = { seq: r.seq, id: r.id, userId: r.user_id, itemId: r.item_id, type: r.type, timestamp: r.ts };
  if (r.value !== null) e.value = r.value;
  if (r.session_id !== null) e.sessionId = r.session_id;
  if (r.surface !== null) e.surface = r.surface;
  if (r.request_id !== null) e.requestId = r.request_id;
  if (r.position !== null) e.position = r.position;
  if (r.context !== null) e.context = JSON.parse(r.context) as StoredEvent['context'];
  return e;
}

function boundedInt(value: number | undefined, fallback: number, max: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new ValidationError(`${field} must be an integer in 1..${max}`, [{ path: field, message: `must be in 1..${max}` }]);
  }
  return v;
}

/** An impression as a row of the impressions table, in column order. */
function impressionValues(imp: Impression): ImpressionValues {
  return [
    imp.requestId,
    imp.userId,
    imp.surface,
    imp.timestamp,
    imp.variant ?? null,
    JSON.stringify(imp.itemIds),
    JSON.stringify(imp.positions),
    JSON.stringify(imp.scores),
    imp.propensities === undefined ? null : JSON.stringify(imp.propensities),
    JSON.stringify(imp.modelVersions),
  ];
}

/** An item's columns in the order of the items table's upsert and insert statements. */
function itemRow(it: Item): [string, string | null, string, string, string, string, number, number, number | null] {
  return [it.id, it.creatorId ?? null, it.title, it.text, JSON.stringify(it.tags), JSON.stringify(it.attributes), it.createdAt, it.available ? 1 : 0, it.expiresAt ?? null];
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private stmts: ReturnType<SqliteStore['prepare']> | undefined;
  private impressionQueue: Impression[] = [];
  private impressionTimer: NodeJS.Timeout | undefined;
  /** Set after migrate() for a writable file database: impressions are written on a worker thread. */
  private impressionWriter: ImpressionWriter | undefined;
  private readonly useImpressionWorker: boolean;

  /**
   * Opens (creating if absent) the database at `path` (or ':memory:'). Call `migrate()` before use.
   * `readonly`: an existing database for reading only (e.g. a worker thread scanning beside the writer;
   * WAL lets it read while the server writes); writes then fail, and no `migrate()` is needed.
   * `impressionWorker` (default: on for a writable file, off for ':memory:'; env
   * TASTEMAKER_IMPRESSION_WORKER=off disables it): write impressions on a worker thread
   * (impression-writer.ts).
   */
  constructor(readonly path: string, opts: { readonly?: boolean; impressionWorker?: boolean } = {}) {
    this.useImpressionWorker =
      !opts.readonly && path !== ':memory:' && path !== '' && (opts.impressionWorker ?? process.env.TASTEMAKER_IMPRESSION_WORKER !== 'off');
    this.db = opts.readonly ? new Database(path, { readonly: true, fileMustExist: true }) : new Database(path);
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('cache_size = -65536');
    // A read-only handle cannot migrate: the writer already did; statements are ready at once.
    if (opts.readonly) this.stmts = this.prepare();
  }

  /** Applies pending migrations from MIGRATIONS (or a given list, for tests); idempotent. */
  async migrate(migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        record.run(m.version, m.name, Date.now());
      }).immediate();
    }
    this.stmts = this.prepare();
    if (this.useImpressionWorker && !this.impressionWriter) {
      this.impressionWriter = new ImpressionWriter(this.path, (rows) => this.insertImpressionRows(rows));
    }
  }

  /** Versions applied so far, ascending. */
  appliedMigrations(): number[] {
    return (this.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map(
      (r) => r.version,
    );
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.flushImpressions();
      await this.impressionWriter?.close();
      this.impressionWriter = undefined;
      this.db.close();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      upsertItem: db.prepare(`INSERT INTO items (id, creator_id, title, text, tags, attributes, created_at, available, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET creator_id = excluded.creator_id, title = excluded.title, text = excluded.text,
          tags = excluded.tags, attributes = excluded.attributes, created_at = excluded.created_at,
          available = excluded.available, expires_at = excluded.expires_at`),
      insertItemIfAbsent: db.prepare(`INSERT INTO items (id, creator_id, title, text, tags, attributes, created_at, available, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
      getItem: db.prepare('SELECT * FROM items WHERE id = ?'),
      deleteItem: db.prepare('DELETE FROM items WHERE id = ?'),
      scanItems: db.prepare('SELECT * FROM items WHERE id > ? ORDER BY id LIMIT ?'),
      countItems: db.prepare("SELECT n FROM row_counts WHERE name = 'items'").pluck(),
      upsertUser: db.prepare(`INSERT INTO users (id, attributes, created_at) VALUES (?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET attributes = excluded.attributes, created_at = excluded.created_at`),
      getUser: db.prepare('SELECT * FROM users WHERE id = ?'),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      deleteUserEvents: db.prepare('DELETE FROM events WHERE user_id = ?'),
      countUsers: db.prepare("SELECT n FROM row_counts WHERE name = 'users'").pluck(),
      deleteUserImpressions: db.prepare('DELETE FROM impressions WHERE user_id = ?'),
      getTombstone: db.prepare('SELECT deleted_at, active FROM tombstones WHERE kind = ? AND id = ?'),
      setTombstone: db.prepare(`INSERT INTO tombstones (kind, id, deleted_at, active) VALUES (?, ?, ?, 1)
        ON CONFLICT(kind, id) DO UPDATE SET deleted_at = excluded.deleted_at, active = 1`),
      reviveUser: db.prepare("UPDATE tombstones SET active = 0 WHERE kind = 'user' AND id = ? AND active = 1"),
      reviveItem: db.prepare("DELETE FROM tombstones WHERE kind = 'item' AND id = ?"),
      anyTombstone: db.prepare('SELECT EXISTS (SELECT 1 FROM tombstones) OR EXISTS (SELECT 1 FROM deleted_events)').pluck(),
      isDeletedEvent: db.prepare('SELECT 1 FROM deleted_events WHERE id = ?').pluck(),
      // ON CONFLICT(id) rather than INSERT OR IGNORE: OR IGNORE would also skip NOT NULL violations.
      insertEvent: db.prepare(`INSERT INTO events
        (id, user_id, item_id, type, value, ts, session_id, surface, request_id, position, context)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
      scanEvents: db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      userEvents: db.prepare('SELECT * FROM events WHERE user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?'),
      countEvents: db.prepare("SELECT n FROM row_counts WHERE name = 'events'").pluck(),
      addEventCount: db.prepare("UPDATE row_counts SET n = n + ? WHERE name = 'events'"),
      lastSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM events').pluck(),
      insertImpression: db.prepare(`INSERT INTO impressions
        (request_id, user_id, surface, ts, variant, item_ids, positions, scores, propensities, model_versions)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id) DO NOTHING`),
      getImpression: db.prepare('SELECT * FROM impressions WHERE request_id = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  private get s(): NonNullable<SqliteStore['stmts']> {
    if (!this.stmts) throw new Error('SqliteStore used before migrate()');
    return this.stmts;
  }

  // --- items -----------------------------------------------------------------------------------

  async upsertItems(items: Item[]): Promise<WriteResult> {
    const stmt = this.s.upsertItem;
    const revive = this.s.reviveItem;
    this.db.transaction(() => {
      for (const it of items) {
        stmt.run(...itemRow(it));
        revive.run(it.id);
      }
    }).immediate();
    return { written: items.length, duplicates: 0 };
  }

  async insertItemsIfAbsent(items: Item[]): Promise<Item[]> {
    const stmt = this.s.insertItemIfAbsent;
    const tombstone = this.s.getTombstone;
    const inserted: Item[] = [];
    this.db.transaction(() => {
      for (const it of items) {
        // A deleted item stays deleted: only an explicit upsert brings it back.
        if (tombstone.get('item', it.id)) continue;
        const r = stmt.run(...itemRow(it));
        if (r.changes > 0) inserted.push(it);
      }
    }).immediate();
    return inserted;
  }

  async getItem(id: string): Promise<Item | undefined> {
    const r = this.s.getItem.get(id) as ItemRow | undefined;
    return r ? itemFromRow(r) : undefined;
  }

  async getItems(ids: string[]): Promise<Map<string, Item>> {
    const out = new Map<string, Item>();
    const stmt = this.s.getItem;
    for (const id of ids) {
      const r = stmt.get(id) as ItemRow | undefined;
      if (r) out.set(id, itemFromRow(r));
    }
    return out;
  }

  async deleteItem(id: string, opts: { atMs?: number } = {}): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.s.deleteItem.run(id).changes === 0) return false;
      this.s.setTombstone.run('item', id, opts.atMs ?? Date.now());
      return true;
    }).immediate();
  }

  async scanItems(opts: { afterId?: string; limit?: number } = {}): Promise<Item[]> {
    const limit = boundedInt(opts.limit, SCAN_LIMITS.defaultBatch, SCAN_LIMITS.maxItemsPage, 'limit');
    return (this.s.scanItems.all(opts.afterId ?? '', limit) as ItemRow[]).map(itemFromRow);
  }

  async countItems(): Promise<number> {
    return this.s.countItems.get() as number;
  }

  // --- users -----------------------------------------------------------------------------------

  async upsertUsers(users: User[]): Promise<WriteResult> {
    const stmt = this.s.upsertUser;
    const revive = this.s.reviveUser;
    this.db.transaction(() => {
      for (const u of users) {
        stmt.run(u.id, JSON.stringify(u.attributes), u.createdAt);
        revive.run(u.id);
      }
    }).immediate();
    return { written: users.length, duplicates: 0 };
  }

  async getUser(id: string): Promise<User | undefined> {
    const r = this.s.getUser.get(id) as UserRow | undefined;
    return r ? { id: r.id, attributes: JSON.parse(r.attributes) as User['attributes'], createdAt: r.created_at } : undefined;
  }

  /**
   * Deletes the user row, every event and impression of the user and leaves the tombstone, in one
   * transaction. Events may name users that were never upserted, so "existed" means: a user row or at
   * least one event was removed. Queued impressions are written first so none of the user's survives.
   */
  async deleteUser(id: string, opts: { atMs?: number } = {}): Promise<boolean> {
    this.flushImpressions();
    await this.impressionWriter?.barrier();
    return this.db.transaction(() => {
      const events = this.s.deleteUserEvents.run(id).changes;
      const users = this.s.deleteUser.run(id).changes;
      if (events + users === 0) return false;
      this.s.deleteUserImpressions.run(id);
      this.s.setTombstone.run('user', id, opts.atMs ?? Date.now());
      return true;
    }).immediate();
  }

  async getTombstone(kind: Tombstone['kind'], id: string): Promise<Tombstone | undefined> {
    const r = this.s.getTombstone.get(kind, id) as { deleted_at: number; active: number } | undefined;
    return r ? { kind, id, deletedAtMs: r.deleted_at, active: r.active === 1 } : undefined;
  }

  async countUsers(): Promise<number> {
    return this.s.countUsers.get() as number;
  }

  // --- events ----------------------------------------------------------------------------------

  async appendEvents(events: Event[]): Promise<AppendResult> {
    const stmt = this.s.insertEvent;
    const newEvents: StoredEvent[] = [];
    const refused: RefusedEvent[] = [];
    // IMMEDIATE: the transaction reads (tombstones) before it writes; a deferred one would hold a read
    // snapshot and fail with SQLITE_BUSY_SNAPSHOT, without waiting, when the impression writer's
    // connection commits in between (found by test/fuzz.test.ts: a 500 on POST /v1/events). Every
    // write transaction here begins IMMEDIATE, so busy_timeout applies to all of them.
    this.db.transaction(() => {
      // The common case (nothing was ever deleted) costs one query per batch, not three per event.
      const lookup: TombstoneLookup | undefined = this.s.anyTombstone.get() ? this.tombstoneLookup() : undefined;
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        const refusal = lookup && refusalOf(e, i, lookup);
        if (refusal) {
          refused.push(refusal);
          continue;
        }
        const r = stmt.run(
          e.id,
          e.userId,
          e.itemId,
          e.type,
          e.value ?? null,
          e.timestamp,
          e.sessionId ?? null,
          e.surface ?? null,
          e.requestId ?? null,
          e.position ?? null,
          e.context === undefined ? null : JSON.stringify(e.context),
        );
        if (r.changes > 0) newEvents.push({ ...e, seq: Number(r.lastInsertRowid) });
      }
      if (newEvents.length > 0) this.s.addEventCount.run(newEvents.length);
    }).immediate();
    return { written: newEvents.length, duplicates: events.length - newEvents.length - refused.length, newEvents, refused };
  }

  /** Tombstone reads for one appendEvents transaction (memoised per id: batches repeat users). */
  private tombstoneLookup(): TombstoneLookup {
    const s = this.s;
    const memo = new Map<string, Tombstone | null>();
    const get = (kind: Tombstone['kind'], id: string): Tombstone | undefined => {
      const key = `${kind}\u0000${id}`;
      let t = memo.get(key);
      if (t === undefined) {
        const r = s.getTombstone.get(kind, id) as { deleted_at: number; active: number } | undefined;
        t = r ? { kind, id, deletedAtMs: r.deleted_at, active: r.active === 1 } : null;
        memo.set(key, t);
      }
      return t ?? undefined;
    };
    return { tombstone: get, eventDeleted: (id) => s.isDeletedEvent.get(id) !== undefined };
  }

  /** WHERE clause and parameters of an event query (user, item, time range, seq). */
  private eventWhere(q: EventQuery & { afterSeq?: number; ids?: string[] }): { where: string; params: (string | number)[] } {
    const conds: string[] = [];
    const params: (string | number)[] = [];
    if (q.ids !== undefined) {
      conds.push(`id IN (${q.ids.map(() => '?').join(', ')})`);
      params.push(...q.ids);
    }
    const add = (cond: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      conds.push(cond);
      params.push(value);
    };
    add('user_id = ?', q.userId);
    add('item_id = ?', q.itemId);
    add('ts >= ?', q.fromMs);
    add('ts < ?', q.toMs);
    add('seq > ?', q.afterSeq);
    return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
  }

  async findEvents(opts: EventFindOptions): Promise<StoredEvent[]> {
    const limit = boundedInt(opts.limit, opts.limit, SCAN_LIMITS.maxBatch, 'limit');
    const { where, params } = this.eventWhere(opts);
    const rows = this.db.prepare(`SELECT * FROM events ${where} ORDER BY seq LIMIT ?`).all(...params, limit) as EventRow[];
    return rows.map(eventFromRow);
  }

  async deleteEvents(selection: EventDeletion, opts: { atMs?: number } = {}): Promise<number> {
    checkEventDeletion(selection);
    const { where, params } = this.eventWhere(selection);
    const at = opts.atMs ?? Date.now();
    return this.db.transaction(() => {
      this.db.prepare(`INSERT INTO deleted_events (id, deleted_at) SELECT id, ? FROM events ${where} ON CONFLICT(id) DO NOTHING`).run(at, ...params);
      return this.db.prepare(`DELETE FROM events ${where}`).run(...params).changes;
    }).immediate();
  }

  async *scanEvents(opts: EventScanOptions = {}): AsyncIterable<StoredEvent[]> {
    const batch = boundedInt(opts.batchSize, SCAN_LIMITS.defaultBatch, SCAN_LIMITS.maxBatch, 'batchSize');
    let after = opts.afterSeq ?? 0;
    while (true) {
      const rows = this.s.scanEvents.all(after, batch) as EventRow[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1].seq;
      yield rows.map(eventFromRow);
      if (rows.length < batch) return;
    }
  }

  async userEvents(userId: string, limit: number): Promise<StoredEvent[]> {
    const n = boundedInt(limit, limit, SCAN_LIMITS.maxUserEvents, 'limit');
    return (this.s.userEvents.all(userId, n) as EventRow[]).map(eventFromRow);
  }

  async countEvents(): Promise<number> {
    return this.s.countEvents.get() as number;
  }

  async lastEventSeq(): Promise<number> {
    return this.s.lastSeq.get() as number;
  }

  // --- impressions & meta ------------------------------------------------------------------------

  /** Impressions are immutable log entries: a second record with the same requestId is ignored. */
  /**
   * Impressions are written once per recommendation, so one transaction each would make the commit the
   * largest cost of a request. They are queued and written together in one transaction at most
   * IMPRESSION_FLUSH_MS later (or at once when IMPRESSION_QUEUE_MAX are waiting); reads and close flush
   * first, so getImpression always sees every recorded impression. A crash may lose the last ≤ 50 ms.
   */
  async recordImpression(imp: Impression): Promise<void> {
    this.impressionQueue.push(imp);
    if (this.impressionQueue.length >= IMPRESSION_QUEUE_MAX) this.flushImpressions();
    else if (this.impressionTimer === undefined) {
      this.impressionTimer = setTimeout(() => this.flushImpressions(), IMPRESSION_FLUSH_MS);
      this.impressionTimer.unref();
    }
  }

  /** Hands the queued impressions to the writer thread, or writes them here in one transaction. */
  flushImpressions(): void {
    if (this.impressionTimer !== undefined) {
      clearTimeout(this.impressionTimer);
      this.impressionTimer = undefined;
    }
    const batch = this.impressionQueue;
    if (batch.length === 0 || !this.db.open) return;
    this.impressionQueue = [];
    const rows = batch.map(impressionValues);
    if (this.impressionWriter) this.impressionWriter.write(rows);
    else this.insertImpressionRows(rows);
  }

  private insertImpressionRows(rows: ImpressionValues[]): void {
    if (!this.db.open) return;
    const stmt = this.s.insertImpression;
    this.db.transaction(() => {
      for (const r of rows) stmt.run(r);
    }).immediate();
  }

  async getImpression(requestId: string): Promise<Impression | undefined> {
    this.flushImpressions();
    await this.impressionWriter?.barrier();
    const r = this.s.getImpression.get(requestId) as ImpressionRow | undefined;
    if (!r) return undefined;
    const imp: Impression = {
      requestId: r.request_id,
      userId: r.user_id,
      surface: r.surface,
      timestamp: r.ts,
      itemIds: JSON.parse(r.item_ids) as string[],
      positions: JSON.parse(r.positions) as number[],
      scores: JSON.parse(r.scores) as number[],
      modelVersions: JSON.parse(r.model_versions) as Record<string, string>,
    };
    if (r.propensities !== null) imp.propensities = JSON.parse(r.propensities) as number[];
    if (r.variant !== null) imp.variant = r.variant;
    return imp;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (this.s.getMeta.get(key) as string | undefined) ?? undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.s.setMeta.run(key, value);
  }
}
