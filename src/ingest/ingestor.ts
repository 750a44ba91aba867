/**
 * The write path for items, users and events: validate each row, write the valid ones in one store
 * transaction, then tell listeners (online features, indexes) about what was newly written. Rejected
 * rows never block accepted ones, and listeners never see an event twice: idempotent duplicates are
 * filtered by the store before `onEvents` is called. Listeners run after the write is durable; an
 * exception from a listener propagates to the caller, but the rows stay stored (and a retry is a no-op
 * for the store), so listeners should not throw.
 *
 * Timestamps are checked against the accepted window (`time`, config `ingest`) at validation; events
 * the store refuses because their user, item or id was deleted (tombstones) are reported as rejected
 * rows with the store's reason at the field (`events[2].userId`), like any invalid row.
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { DEFAULT_INGEST_CONFIG, type IngestConfig } from '../core/config.js';
import type { Item, User } from '../core/schemas.js';
import type { Store, StoredEvent } from '../store/types.js';
import type { BatchResult } from './types.js';
import { resolveUnknownItems } from './unknown-items.js';
import { validateEvents, validateItems, validateUsers, type ValidateOptions } from './validate.js';

export interface IngestListeners {
  onItems?: (items: Item[]) => void;
  onUsers?: (users: User[]) => void;
  /** Only events written by this call (duplicates removed), in request order, with their log seq. */
  onEvents?: (events: StoredEvent[]) => void;
}

export interface IngestorOptions {
  clock?: Clock;
  /** Accepted time window of client timestamps (default: config defaults, reject beyond 5 min ahead). */
  time?: IngestConfig;
  /**
   * Events whose item is not in the catalog create a minimal item (id only; default true, config
   * `autoInsertItems`); false rejects those events with a reason naming `itemId` (unknown-items.ts).
   */
  autoInsertItems?: boolean;
}

export class Ingestor {
  private readonly clock: Clock;
  private readonly time: IngestConfig;
  private readonly autoInsertItems: boolean;

  constructor(
    private readonly store: Store,
    private readonly listeners: IngestListeners = {},
    opts: IngestorOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.time = opts.time ?? DEFAULT_INGEST_CONFIG;
    this.autoInsertItems = opts.autoInsertItems ?? true;
  }

  async ingestItems(rows: unknown, opts: ValidateOptions = {}): Promise<BatchResult> {
    const b = validateItems(rows, this.clock, { time: this.time, ...opts });
    const items = await this.keepCreatedAt(b.valid, b.hadCreatedAt, (ids) => this.store.getItems(ids));
    if (items.length > 0) {
      await this.store.upsertItems(items);
      this.listeners.onItems?.(items);
    }
    return { accepted: items.length, duplicates: 0, rejected: b.rejected };
  }

  async ingestUsers(rows: unknown, opts: ValidateOptions = {}): Promise<BatchResult> {
    const b = validateUsers(rows, this.clock, { time: this.time, ...opts });
    const users = await this.keepCreatedAt(b.valid, b.hadCreatedAt, async (ids) => {
      const out = new Map<string, User>();
      for (const id of ids) {
        const u = await this.store.getUser(id);
        if (u) out.set(id, u);
      }
      return out;
    });
    if (users.length > 0) {
      await this.store.upsertUsers(users);
      this.listeners.onUsers?.(users);
    }
    return { accepted: users.length, duplicates: 0, rejected: b.rejected };
  }

  async ingestEvents(rows: unknown, opts: ValidateOptions = {}): Promise<BatchResult> {
    const b = validateEvents(rows, this.clock, { time: this.time, ...opts });
    if (b.valid.length === 0) return { accepted: 0, duplicates: 0, rejected: b.rejected };
    const u = await resolveUnknownItems(this.store, b.valid, b.validIndexes, { autoInsertItems: this.autoInsertItems, field: 'events' });
    // Listeners learn about the created items before the events that reference them.
    if (u.created.length > 0) this.listeners.onItems?.(u.created);
    const rejected = u.rejected.length === 0 ? b.rejected : [...b.rejected, ...u.rejected].sort((x, y) => x.index - y.index);
    const created = u.created.length > 0 ? { itemsCreated: u.created.length } : {};
    if (u.events.length === 0) return { accepted: 0, duplicates: 0, rejected, ...created };
    const r = await this.store.appendEvents(u.events);
    if (r.newEvents.length > 0) this.listeners.onEvents?.(r.newEvents);
    if (r.refused.length === 0) return { accepted: u.events.length, duplicates: r.duplicates, rejected, ...created };
    // Refused by a tombstone (deleted user or item, deleted event id): indexes are into u.events.
    const refused = r.refused.map((x) => {
      const index = u.indexes[x.index];
      return { index, issues: [{ path: `events[${index}].${x.field}`, message: x.message }] };
    });
    return {
      accepted: u.events.length - refused.length,
      duplicates: r.duplicates,
      rejected: [...rejected, ...refused].sort((a, c) => a.index - c.index),
      ...created,
    };
  }

  /** An update that omits createdAt keeps the stored one, so re-sending a catalog does not make it "fresh". */
  private async keepCreatedAt<T extends { id: string; createdAt: number }>(
    rows: T[],
    hadCreatedAt: boolean[],
    load: (ids: string[]) => Promise<Map<string, { createdAt: number }>>,
  ): Promise<T[]> {
    const missing = rows.filter((_, i) => !hadCreatedAt[i]).map((r) => r.id);
    if (missing.length === 0) return rows;
    const existing = await load(missing);
    if (existing.size === 0) return rows;
    return rows.map((r, i) => {
      const prev = hadCreatedAt[i] ? undefined : existing.get(r.id);
      return prev ? { ...r, createdAt: prev.createdAt } : r;
    });
  }
}
