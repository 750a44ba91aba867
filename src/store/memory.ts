/**
 * A volatile, in-process `Store`: for tests, benchmarks of the online layer without disk I/O, and
 * throwaway demos. It honours the same contract as the SQLite adapter (it passes the conformance suite):
 * idempotent event appends, all-or-nothing batches, seq order, cascading user deletes. Values are copied
 * in and out so callers can never mutate stored state.
 */
import { ValidationError } from '../core/errors.js';
import type { Event, Item, User } from '../core/schemas.js';
import { checkEventDeletion, matchesSelection, refusalOf, type TombstoneLookup } from './tombstones.js';
import type {
  AppendResult,
  EventDeletion,
  EventFindOptions,
  EventScanOptions,
  Impression,
  RefusedEvent,
  Store,
  StoredEvent,
  Tombstone,
  WriteResult,
} from './types.js';

const MAX_SCAN_BATCH = 10_000;
const DEFAULT_SCAN_BATCH = 1_000;

/** A deep copy without keys whose value is undefined (a stored row has no "undefined" columns). */
function copy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(copy) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = copy(x);
    return out as T;
  }
  return v;
}

function checkEvent(e: Event, index: number): void {
  const str = (field: 'id' | 'userId' | 'itemId' | 'type'): void => {
    if (typeof e?.[field] !== 'string' || e[field] === '') {
      throw new ValidationError(`events[${index}].${field} must be a non-empty string`, [
        { path: `events[${index}].${field}`, message: 'must be a non-empty string' },
      ]);
    }
  };
  str('id');
  str('userId');
  str('itemId');
  str('type');
  if (typeof e.timestamp !== 'number' || !Number.isFinite(e.timestamp)) {
    throw new ValidationError(`events[${index}].timestamp must be a finite number`, [
      { path: `events[${index}].timestamp`, message: 'must be a finite number' },
    ]);
  }
}

export class MemoryStore implements Store {
  readonly kind = 'sqlite' as const; // behaves like the embedded adapter; there is no separate 'memory' kind in the contract
  private items = new Map<string, Item>();
  private sortedItemIds: string[] | null = null;
  private users = new Map<string, User>();
  /** The log in seq order. */
  private log: StoredEvent[] = [];
  private eventIds = new Set<string>();
  private byUser = new Map<string, StoredEvent[]>();
  private seq = 0;
  private impressions = new Map<string, Impression>();
  private meta = new Map<string, string>();
  /** Keyed `${kind}:${id}`. */
  private tombstones = new Map<string, Tombstone>();
  /** Deleted event id -> deletion time. */
  private deletedEventIds = new Map<string, number>();
  private closed = false;
  private readonly lookup: TombstoneLookup = {
    tombstone: (kind, id) => this.tombstones.get(`${kind}:${id}`),
    eventDeleted: (id) => this.deletedEventIds.has(id),
  };

  private open(): void {
    if (this.closed) throw new Error('MemoryStore is closed');
  }

  async migrate(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async upsertItems(items: Item[]): Promise<WriteResult> {
    this.open();
    items.forEach((it, i) => {
      if (typeof it?.id !== 'string' || it.id === '') {
        throw new ValidationError(`items[${i}].id must be a non-empty string`, [{ path: `items[${i}].id`, message: 'must be a non-empty string' }]);
      }
    });
    for (const it of items) {
      if (!this.items.has(it.id)) this.sortedItemIds = null;
      this.items.set(it.id, copy(it));
      this.tombstones.delete(`item:${it.id}`);
    }
    return { written: items.length, duplicates: 0 };
  }

  async insertItemsIfAbsent(items: Item[]): Promise<Item[]> {
    this.open();
    const inserted: Item[] = [];
    for (const it of items) {
      // A deleted item stays deleted (its tombstone): only an explicit upsert brings it back.
      if (this.items.has(it.id) || this.tombstones.has(`item:${it.id}`)) continue;
      this.sortedItemIds = null;
      this.items.set(it.id, copy(it));
      inserted.push(it);
    }
    return inserted;
  }

  async getItem(id: string): Promise<Item | undefined> {
    this.open();
    const it = this.items.get(id);
    return it && copy(it);
  }

  async getItems(ids: string[]): Promise<Map<string, Item>> {
    this.open();
    const out = new Map<string, Item>();
    for (const id of ids) {
      const it = this.items.get(id);
      if (it) out.set(id, copy(it));
    }
    return out;
  }

  async deleteItem(id: string, opts: { atMs?: number } = {}): Promise<boolean> {
    this.open();
    const had = this.items.delete(id);
    if (had) {
      this.sortedItemIds = null;
      this.tombstones.set(`item:${id}`, { kind: 'item', id, deletedAtMs: opts.atMs ?? Date.now(), active: true });
    }
    return had;
  }

  async scanItems(opts: { afterId?: string; limit?: number } = {}): Promise<Item[]> {
    this.open();
    if (!this.sortedItemIds) this.sortedItemIds = [...this.items.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const ids = this.sortedItemIds;
    const limit = Math.max(1, Math.min(opts.limit ?? DEFAULT_SCAN_BATCH, MAX_SCAN_BATCH));
    let lo = 0;
    if (opts.afterId !== undefined) {
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ids[mid] <= opts.afterId) lo = mid + 1;
        else hi = mid;
      }
    }
    return ids.slice(lo, lo + limit).map((id) => copy(this.items.get(id)!));
  }

  async countItems(): Promise<number> {
    this.open();
    return this.items.size;
  }

  async upsertUsers(users: User[]): Promise<WriteResult> {
    this.open();
    users.forEach((u, i) => {
      if (typeof u?.id !== 'string' || u.id === '') {
        throw new ValidationError(`users[${i}].id must be a non-empty string`, [{ path: `users[${i}].id`, message: 'must be a non-empty string' }]);
      }
    });
    for (const u of users) {
      this.users.set(u.id, copy(u));
      const t = this.tombstones.get(`user:${u.id}`);
      if (t) t.active = false;
    }
    return { written: users.length, duplicates: 0 };
  }

  async getUser(id: string): Promise<User | undefined> {
    this.open();
    const u = this.users.get(id);
    return u && copy(u);
  }

  async deleteUser(id: string, opts: { atMs?: number } = {}): Promise<boolean> {
    this.open();
    const had = this.users.delete(id);
    const evs = this.byUser.get(id);
    if (evs) {
      this.byUser.delete(id);
      for (const e of evs) this.eventIds.delete(e.id);
      this.log = this.log.filter((e) => e.userId !== id);
    }
    if (!had && !evs) return false;
    for (const [rid, imp] of this.impressions) if (imp.userId === id) this.impressions.delete(rid);
    this.tombstones.set(`user:${id}`, { kind: 'user', id, deletedAtMs: opts.atMs ?? Date.now(), active: true });
    return true;
  }

  async getTombstone(kind: Tombstone['kind'], id: string): Promise<Tombstone | undefined> {
    this.open();
    const t = this.tombstones.get(`${kind}:${id}`);
    return t && { ...t };
  }

  async findEvents(opts: EventFindOptions): Promise<StoredEvent[]> {
    this.open();
    if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > MAX_SCAN_BATCH) {
      throw new ValidationError(`limit must be an integer in 1..${MAX_SCAN_BATCH}`, [{ path: 'limit', message: `must be in 1..${MAX_SCAN_BATCH}` }]);
    }
    const out: StoredEvent[] = [];
    const after = opts.afterSeq ?? 0;
    for (const e of opts.userId !== undefined ? (this.byUser.get(opts.userId) ?? []) : this.log) {
      if (e.seq <= after || !matchesSelection(e, opts)) continue;
      out.push(copy(e));
      if (out.length === opts.limit) break;
    }
    return out;
  }

  async deleteEvents(selection: EventDeletion, opts: { atMs?: number } = {}): Promise<number> {
    this.open();
    checkEventDeletion(selection);
    const ids = selection.ids && new Set(selection.ids);
    const gone = (e: StoredEvent): boolean => (ids === undefined || ids.has(e.id)) && matchesSelection(e, selection);
    const at = opts.atMs ?? Date.now();
    const before = this.log.length;
    this.log = this.log.filter((e) => {
      if (!gone(e)) return true;
      this.eventIds.delete(e.id);
      this.deletedEventIds.set(e.id, at);
      return false;
    });
    for (const [u, list] of this.byUser) {
      const kept = list.filter((e) => !gone(e));
      if (kept.length === 0) this.byUser.delete(u);
      else if (kept.length !== list.length) this.byUser.set(u, kept);
    }
    return before - this.log.length;
  }

  async countUsers(): Promise<number> {
    this.open();
    return this.users.size;
  }

  async appendEvents(events: Event[]): Promise<AppendResult> {
    this.open();
    events.forEach(checkEvent); // all-or-nothing: validate the whole batch before writing any row
    const newEvents: StoredEvent[] = [];
    const refused: RefusedEvent[] = [];
    let duplicates = 0;
    const seen = new Set<string>();
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const refusal = refusalOf(e, i, this.lookup);
      if (refusal) {
        refused.push(refusal);
        continue;
      }
      if (this.eventIds.has(e.id) || seen.has(e.id)) {
        duplicates++;
        continue;
      }
      seen.add(e.id);
      newEvents.push({ ...copy(e), seq: this.seq + newEvents.length + 1 });
    }
    for (const s of newEvents) {
      this.log.push(s);
      this.eventIds.add(s.id);
      let list = this.byUser.get(s.userId);
      if (!list) this.byUser.set(s.userId, (list = []));
      list.push(s);
    }
    this.seq += newEvents.length;
    return { written: newEvents.length, duplicates, newEvents: newEvents.map(copy), refused };
  }

  async *scanEvents(opts: EventScanOptions = {}): AsyncIterable<StoredEvent[]> {
    this.open();
    const batch = Math.max(1, Math.min(opts.batchSize ?? DEFAULT_SCAN_BATCH, MAX_SCAN_BATCH));
    let after = opts.afterSeq ?? 0;
    while (true) {
      // Re-locate by seq on every batch: the log may change between yields (appends, user deletes).
      let lo = 0;
      let hi = this.log.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.log[mid].seq <= after) lo = mid + 1;
        else hi = mid;
      }
      if (lo >= this.log.length) return;
      const out = this.log.slice(lo, lo + batch).map(copy);
      after = out[out.length - 1].seq;
      yield out;
    }
  }

  async userEvents(userId: string, limit: number): Promise<StoredEvent[]> {
    this.open();
    const list = this.byUser.get(userId) ?? [];
    return [...list]
      .sort((a, b) => b.timestamp - a.timestamp || b.seq - a.seq)
      .slice(0, Math.max(0, limit))
      .map(copy);
  }

  async countEvents(): Promise<number> {
    this.open();
    return this.log.length;
  }

  async lastEventSeq(): Promise<number> {
    this.open();
    return this.log.length ? this.log[this.log.length - 1].seq : 0;
  }

  async recordImpression(imp: Impression): Promise<void> {
    this.open();
    this.impressions.set(imp.requestId, copy(imp));
  }

  async getImpression(requestId: string): Promise<Impression | undefined> {
    this.open();
    const imp = this.impressions.get(requestId);
    return imp && copy(imp);
  }

  async getMeta(key: string): Promise<string | undefined> {
    this.open();
    return this.meta.get(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.open();
    this.meta.set(key, value);
  }
}
