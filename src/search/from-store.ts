/**
 * Builds a ready SearchIndex from a Store: every item (a creator display name is taken from the
 * item's `creator` / `creatorName` attribute when present, else the creatorId), popularity = number
 * of positive events per item, and the content tower trained on each user's positive events in log
 * order. Used by `tastemaker search` and by serve when it answers /v1/search.
 */
import type { Item } from '../core/schemas.js';
import { DEFAULT_EVENT_WEIGHTS } from '../core/schemas.js';
import type { Store } from '../store/types.js';
import { ContentEncoder, type ContentFields, type EncoderState, type TrainConfigInput, type TrainReport } from './encoder.js';
import { SearchConfigSchema, SearchIndex, SearchItemSchema, trainTower, type SearchConfigInput, type SearchItem } from './search-index.js';
import { isPositive } from '../core/events.js';

/** Bounds on what one build reads (a user's history beyond this adds little to co-consumption). */
const PAGE = 1_000;
const MAX_EVENTS_PER_USER = 2_000;

export function searchItemOf(it: Item, popularity = 0): SearchItem {
  const a = it.attributes ?? {};
  const name = typeof a.creator === 'string' ? a.creator : typeof a.creatorName === 'string' ? a.creatorName : undefined;
  return {
    id: it.id,
    title: it.title,
    text: it.text,
    tags: it.tags,
    creator: name ?? it.creatorId,
    creatorId: it.creatorId,
    available: it.available && (it.expiresAt === undefined || it.expiresAt > Date.now()),
    popularity,
  };
}

/**
 * Lets pending I/O run between pages: serve builds the index in the background of a listening server,
 * and a million-item catalog would otherwise hold the event loop for minutes (store scans resolve as
 * microtasks, which never let a request in).
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface BuildReport {
  items: number;
  events: number;
  tower: TrainReport | undefined;
  seconds: number;
}

/** Positive events per item and each user's positive items in log order (bounded per user). */
async function scanPositives(
  store: Pick<Store, 'scanEvents'>,
  weights: Readonly<Record<string, number>>,
): Promise<{ seqs: Map<string, string[]>; counts: Map<string, number>; events: number }> {
  const seqs = new Map<string, string[]>();
  const counts = new Map<string, number>();
  let events = 0;
  for await (const batch of store.scanEvents({ batchSize: 5_000 })) {
    await yieldToEventLoop();
    for (const e of batch) {
      if (!isPositive(e.type, weights)) continue;
      events++;
      counts.set(e.itemId, (counts.get(e.itemId) ?? 0) + 1);
      let s = seqs.get(e.userId);
      if (!s) seqs.set(e.userId, (s = []));
      if (s.length < MAX_EVENTS_PER_USER) s.push(e.itemId);
    }
  }
  return { seqs, counts, events };
}

export async function buildSearchIndexFromStore(
  store: Pick<Store, 'scanItems' | 'scanEvents'>,
  opts: { config?: SearchConfigInput; train?: TrainConfigInput; eventWeights?: Readonly<Record<string, number>> } = {},
): Promise<{ index: SearchIndex; report: BuildReport }> {
  const t0 = performance.now();
  const { seqs, counts, events } = await scanPositives(store, opts.eventWeights ?? DEFAULT_EVENT_WEIGHTS);
  const index = new SearchIndex(opts.config);
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: PAGE });
    if (page.length === 0) break;
    index.upsert(page.map((it) => searchItemOf(it, counts.get(it.id) ?? 0)));
    afterId = page[page.length - 1].id;
    await yieldToEventLoop();
  }
  const tower = index.size >= 2 ? index.trainContent([...seqs.values()], { train: opts.train }) : undefined;
  return { index, report: { items: index.size, events, tower, seconds: (performance.now() - t0) / 1000 } };
}

/**
 * Trains the content tower as buildSearchIndexFromStore does (same catalog in the same order, same
 * events and search config, so the same weights: from-store.test.ts checks it) and returns only the
 * tower's state. What the training worker (tower-worker.ts) runs. It builds no index — no postings,
 * autocomplete, facets or embeddings — only the rows the tower trains on: at a million items that is
 * a fraction of the CPU and memory of a whole second build beside the serving one.
 * Undefined when the catalog has fewer than 2 items.
 */
export async function trainTowerFromStore(
  store: Pick<Store, 'scanItems' | 'scanEvents'>,
  opts: { config?: SearchConfigInput; train?: TrainConfigInput; eventWeights?: Readonly<Record<string, number>> } = {},
): Promise<{ state: EncoderState; report: BuildReport } | undefined> {
  const t0 = performance.now();
  const config = SearchConfigSchema.parse(opts.config ?? {});
  const { seqs, events } = await scanPositives(store, opts.eventWeights ?? DEFAULT_EVENT_WEIGHTS);
  // docs[i]: the tower's view of the i-th item, in the scan order SearchIndex slots follow.
  const docs: ContentFields[] = [];
  const rowOf = new Map<string, number>();
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: PAGE });
    if (page.length === 0) break;
    for (const it of page) {
      const row = SearchItemSchema.parse(searchItemOf(it));
      if (rowOf.has(row.id)) continue;
      rowOf.set(row.id, docs.length);
      docs.push({ title: row.title, text: row.text, tags: row.tags, creator: row.creator, key: row.id });
    }
    afterId = page[page.length - 1].id;
    await yieldToEventLoop();
  }
  if (docs.length < 2) return undefined;
  const encoder = new ContentEncoder(config.encoder);
  const tower = trainTower(encoder, docs, (id) => rowOf.get(id), [...seqs.values()], { train: opts.train });
  return { state: encoder.state(), report: { items: docs.length, events, tower, seconds: (performance.now() - t0) / 1000 } };
}
