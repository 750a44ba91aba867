/**
 * Builds a ready SearchIndex from a Store: every item (a creator display name is taken from the
 * item's `creator` / `creatorName` attribute when present, else the creatorId), popularity = number
 * of positive events per item, and the content tower trained on each user's positive events in log
 * order. Used by `tastemaker search` and by serve when it answers /v1/search.
 */
import type { Item } from '../core/schemas.js';
import { DEFAULT_EVENT_WEIGHTS } from '../core/schemas.js';
import type { Store } from '../store/types.js';
import type { EncoderState, TrainConfigInput, TrainReport } from './encoder.js';
import { SearchIndex, type SearchConfigInput, type SearchItem } from './search-index.js';

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

export async function buildSearchIndexFromStore(
  store: Pick<Store, 'scanItems' | 'scanEvents'>,
  opts: { config?: SearchConfigInput; train?: TrainConfigInput; eventWeights?: Readonly<Record<string, number>> } = {},
): Promise<{ index: SearchIndex; report: BuildReport }> {
  const t0 = performance.now();
  const weights = opts.eventWeights ?? DEFAULT_EVENT_WEIGHTS;
  const seqs = new Map<string, string[]>();
  const counts = new Map<string, number>();
  let events = 0;
  for await (const batch of store.scanEvents({ batchSize: 5_000 })) {
    await yieldToEventLoop();
    for (const e of batch) {
      if ((weights[e.type] ?? 1) <= 0) continue;
      events++;
      counts.set(e.itemId, (counts.get(e.itemId) ?? 0) + 1);
      let s = seqs.get(e.userId);
      if (!s) seqs.set(e.userId, (s = []));
      if (s.length < MAX_EVENTS_PER_USER) s.push(e.itemId);
    }
  }
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
 * Trains the content tower as buildSearchIndexFromStore does (same catalog, events and default search
 * config, so the state fits an index built with that config) and returns only the tower's state.
 * What the training worker (tower-worker.ts) runs; undefined when the catalog has fewer than 2 items.
 */
export async function trainTowerFromStore(
  store: Pick<Store, 'scanItems' | 'scanEvents'>,
  opts: { config?: SearchConfigInput; train?: TrainConfigInput; eventWeights?: Readonly<Record<string, number>> } = {},
): Promise<{ state: EncoderState; report: BuildReport } | undefined> {
  const { index, report } = await buildSearchIndexFromStore(store, opts);
  return report.tower ? { state: index.encoderState(), report } : undefined;
}
