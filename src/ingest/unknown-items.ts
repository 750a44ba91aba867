/**
 * Events whose item is not in the catalog. With `autoInsertItems` on (the default, as Gorse's
 * `auto_insert_item`), such an event creates a minimal item — the id only, `createdAt` the time of its
 * earliest event in the batch — so an events-only import (a SASRec file, a click log) gives a servable
 * catalog instead of empty recommendations. Off, those events are rejected with a reason naming `itemId`.
 *
 * Creation goes through `Store.insertItemsIfAbsent`, which never overwrites a stored row: an item sent
 * to /v1/items by a concurrent batch keeps its title and tags.
 */
import type { Event, Item } from '../core/schemas.js';
import type { Store } from '../store/types.js';
import type { RejectedRow } from './types.js';

/** A catalog row for an item known only from its events. */
export function minimalItem(id: string, createdAt: number): Item {
  return { id, title: '', text: '', tags: [], attributes: {}, createdAt, available: true };
}

/** Most item ids an importer remembers as present before it starts over (memory bound, not correctness). */
const MAX_KNOWN_IDS = 1_000_000;

export interface UnknownItemsOptions {
  autoInsertItems: boolean;
  /** Issue paths read `${field}[index].itemId`; a function gives the field of the k-th event. */
  field: string | ((k: number) => string);
  /**
   * Ids already known to be in the catalog (importers keep one across batches; the HTTP path does not,
   * since items can be deleted between requests). Found and created ids are added to it.
   */
  known?: Set<string>;
}

export interface ResolvedEvents<E extends Event> {
  /** The events that may be appended (all of them when autoInsertItems is on). */
  events: E[];
  /** Their indexes, aligned with `events`. */
  indexes: number[];
  /** Their positions in the input `events`, aligned with `events`. */
  positions: number[];
  /** Items this call created, to be passed to listeners before the events. */
  created: Item[];
  /** Events refused because their item is unknown and autoInsertItems is off. */
  rejected: RejectedRow[];
}

/**
 * Looks up the distinct items of `events` (one point read each, skipping `opts.known`) and either
 * creates the missing ones or rejects their events.   events, indexes: [n], aligned.
 */
export async function resolveUnknownItems<E extends Event>(
  store: Store,
  events: E[],
  indexes: readonly number[],
  opts: UnknownItemsOptions,
): Promise<ResolvedEvents<E>> {
  const firstSeenMs = new Map<string, number>();
  for (const e of events) {
    if (opts.known?.has(e.itemId)) continue;
    const t = firstSeenMs.get(e.itemId);
    if (t === undefined || e.timestamp < t) firstSeenMs.set(e.itemId, e.timestamp);
  }
  const all = () => ({ events, indexes: [...indexes], positions: events.map((_, k) => k) });
  if (firstSeenMs.size === 0) return { ...all(), created: [], rejected: [] };
  const stored = await store.getItems([...firstSeenMs.keys()]);
  const missing = [...firstSeenMs.keys()].filter((id) => !stored.has(id));
  const known = opts.known;
  if (known && known.size + firstSeenMs.size > MAX_KNOWN_IDS) known.clear();
  for (const id of stored.keys()) known?.add(id);
  if (missing.length === 0) return { ...all(), created: [], rejected: [] };

  if (opts.autoInsertItems) {
    const created = await store.insertItemsIfAbsent(missing.map((id) => minimalItem(id, firstSeenMs.get(id)!)));
    for (const id of missing) known?.add(id);
    return { ...all(), created, rejected: [] };
  }
  const unknown = new Set(missing);
  const kept: E[] = [];
  const keptIndexes: number[] = [];
  const positions: number[] = [];
  const rejected: RejectedRow[] = [];
  for (let i = 0; i < events.length; i++) {
    const id = events[i].itemId;
    if (!unknown.has(id)) {
      kept.push(events[i]);
      keptIndexes.push(indexes[i]);
      positions.push(i);
      continue;
    }
    const field = typeof opts.field === 'string' ? opts.field : opts.field(i);
    rejected.push({
      index: indexes[i],
      issues: [{ path: `${field}[${indexes[i]}].itemId`, message: `unknown item ${JSON.stringify(id)}: not in the catalog and autoInsertItems is off` }],
    });
  }
  return { events: kept, indexes: keptIndexes, positions, created: [], rejected };
}
