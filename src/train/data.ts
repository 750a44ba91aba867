/**
 * The one store → training sequences loader every job uses (two-tower, SASRec, any sequence model):
 * the catalog in id order, then the event log in append order, keeping positive feedback only (as
 * declared by the config's event weights, core/events.ts), per user sorted by time. The item ixs follow
 * the catalog's id order, so two rounds over an unchanged catalog index items identically (what warm
 * starts rely on); items seen only in events are appended after the catalog.
 */
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { isPositive, type EventWeights } from '../core/events.js';
import { DEFAULT_EVENT_WEIGHTS, type Item } from '../core/schemas.js';
import type { ItemSideInfo } from '../models/index.js';
import type { Store } from '../store/index.js';

/** Per-user history cap: the most recent events only, so one bot-like user cannot dominate memory. */
const MAX_EVENTS_PER_USER = 5_000;

export interface TrainingData {
  /** train: [users] sequences of item ixs, oldest first, without the held-out item. */
  train: Sequences;
  /** validTargets: [users] the held-out (newest) item ix, or -1 for users with < 3 items. */
  validTargets: Int32Array;
  userIds: string[];
  itemIds: string[];
  side: ItemSideInfo;
  events: number;
}

/**
 * Catalog + positive events → sequences with the last item of users with ≥ 3 items held out. Consecutive
 * positive events on the same item (play → complete → like of one track) are one step of the sequence:
 * otherwise "the next item is the last one again" dominates both the training pairs and the held-out item,
 * which no surface can use (served lists exclude what the user just consumed).
 */
export async function loadTrainingData(store: Store, eventWeights: EventWeights = DEFAULT_EVENT_WEIGHTS): Promise<TrainingData> {
  const itemIx = new Map<string, number>();
  const itemIds: string[] = [];
  const tags: string[][] = [], titles: string[] = [], creators: (string | undefined)[] = [];
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: 1000 });
    if (page.length === 0) break;
    for (const it of page) {
      itemIx.set(it.id, itemIds.length);
      itemIds.push(it.id);
      tags.push(it.tags);
      titles.push(it.title);
      creators.push(it.creatorId);
    }
    afterId = page[page.length - 1].id;
  }
  const userIx = new Map<string, number>();
  const userIds: string[] = [];
  const perUser: { ts: number[]; seq: number[]; item: number[] }[] = [];
  let events = 0;
  for await (const batch of store.scanEvents({ batchSize: 5000 })) {
    for (const e of batch) {
      if (!isPositive(e.type, eventWeights)) continue;
      let i = itemIx.get(e.itemId);
      if (i === undefined) {
        i = itemIds.length;
        itemIx.set(e.itemId, i);
        itemIds.push(e.itemId);
        tags.push([]);
        titles.push('');
        creators.push(undefined);
      }
      let u = userIx.get(e.userId);
      if (u === undefined) {
        u = userIds.length;
        userIx.set(e.userId, u);
        userIds.push(e.userId);
        perUser.push({ ts: [], seq: [], item: [] });
      }
      perUser[u].ts.push(e.timestamp);
      perUser[u].seq.push(e.seq);
      perUser[u].item.push(i);
      events++;
    }
  }
  const validTargets = new Int32Array(userIds.length).fill(-1);
  const lists: number[][] = [];
  for (let u = 0; u < perUser.length; u++) {
    const { ts, seq, item } = perUser[u];
    const order = ts.map((_, k) => k).sort((a, b) => ts[a] - ts[b] || seq[a] - seq[b]);
    let items: number[] = [];
    for (const k of order) if (items.length === 0 || items[items.length - 1] !== item[k]) items.push(item[k]);
    if (items.length > MAX_EVENTS_PER_USER) items = items.slice(-MAX_EVENTS_PER_USER);
    if (items.length >= 3) validTargets[u] = items.pop()!;
    lists.push(items);
  }
  return { train: sequencesFromLists(lists, itemIds.length), validTargets, userIds, itemIds, side: { tags, titles, creators }, events };
}

/** The whole catalog, in pages of 10,000 (the engine-replay jobs build their own engine over it). */
export async function scanAllItems(store: Store): Promise<Item[]> {
  const items: Item[] = [];
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: 10_000 });
    items.push(...page);
    if (page.length < 10_000) break;
    afterId = page[page.length - 1].id;
  }
  return items;
}
