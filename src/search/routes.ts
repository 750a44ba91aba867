/**
 * HTTP routes of search, as route specifications for the serve layer's one route table (so they get
 * the same API-key check, query validation, error shape and OpenAPI entry as every other route):
 *   GET /v1/search?q=&n=&tags=&creator=&userId=&mode=
 *   GET /v1/suggest?q=&n=
 * src/serve/app.ts adds them with `routes.push(...searchRouteSpecs(opts.search, ...))` when a
 * SearchIndex (or a holder of one, possibly in a worker thread) is configured. The user's history (for the personal re-rank) comes from the store's
 * recent events; negative events (skip, dislike, …) do not count as history.
 */
import { z } from 'zod';
import { Id, DEFAULT_EVENT_WEIGHTS, queryInt } from '../core/schemas.js';
import type { Store } from '../store/types.js';
// Type-only: serve imports search at runtime, never the other way round.
import type { RouteSpec } from '../serve/openapi.js';
import type { SearchQuery, SearchResult } from './search-index.js';
import { SearchMode } from './search-index.js';
import { MAX_SUGGESTIONS, type Suggestion } from './suggest.js';
import { isPositive, type EventWeights } from '../core/events.js';

/**
 * What the routes need from a search index: the in-process SearchIndex, or the client of an index kept
 * in a worker thread (search-worker.ts), whose answers arrive by message.
 */
export interface SearchService {
  searchAsync(query: SearchQuery): Promise<SearchResult>;
  suggest(q: string, n?: number): Suggestion[] | Promise<Suggestion[]>;
}

/** How many recent events of the user feed the personal re-rank. */
export const SEARCH_HISTORY_EVENTS = 200;

const intField = (max: number, def: number) => queryInt(1, max).default(def);

export function searchQuery(maxN: number) {
  return z.strictObject({
    q: z.string().min(1, 'must not be empty').max(1_000).meta({ description: 'What the user typed (typos and a half-typed last word are fine)' }),
    n: intField(maxN, 10).meta({ description: `Number of items, 1..${maxN}` }),
    tags: z
      .string()
      .max(20 * 101)
      .transform((s) => s.split(',').filter((x) => x.length > 0))
      .pipe(z.array(z.string().max(100)).max(20))
      .optional()
      .meta({ description: 'Comma-separated tags every result must carry' }),
    creator: z.string().min(1).max(1_000).optional().meta({ description: 'Only items of this creator (name or creatorId)' }),
    userId: Id.optional().meta({ description: 'Personalise with this user’s recent history' }),
    mode: SearchMode.default('hybrid').meta({ description: 'lexical | semantic | rrf | hybrid (learned blend)' }),
  });
}

export const suggestQuery = z.strictObject({
  q: z.string().min(1, 'must not be empty').max(200).meta({ description: 'The prefix typed so far' }),
  n: intField(MAX_SUGGESTIONS, 10).meta({ description: `Number of suggestions, 1..${MAX_SUGGESTIONS}` }),
});

export const SearchResponseSchema = z.strictObject({
  items: z.array(z.strictObject({ itemId: z.string(), score: z.number(), source: z.enum(['lexical', 'semantic', 'lexical+semantic']) })),
});

export const SuggestResponseSchema = z.strictObject({
  suggestions: z.array(
    z.strictObject({ text: z.string(), kind: z.enum(['title', 'creator', 'tag']), itemId: z.string().optional(), popularity: z.number() }),
  ),
});

/** Item ids of the user's recent positive events, oldest first. */
export async function recentHistory(
  store: Pick<Store, 'userEvents'>,
  userId: string,
  limit = SEARCH_HISTORY_EVENTS,
  eventWeights: EventWeights = DEFAULT_EVENT_WEIGHTS,
): Promise<string[]> {
  const events = await store.userEvents(userId, limit);
  const out: string[] = [];
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (isPositive(e.type, eventWeights)) out.push(e.itemId);
  }
  return out;
}

/** Keeps the query generic so the handler sees the parsed type (as serve's defineRoute does). */
function defineRoute<Q extends z.ZodType>(spec: RouteSpec<z.ZodType, Q>): RouteSpec {
  return spec as unknown as RouteSpec;
}

export function searchRouteSpecs(search: SearchService, opts: { store?: Pick<Store, 'userEvents'>; maxN?: number; eventWeights?: EventWeights } = {}): RouteSpec[] {
  const maxN = opts.maxN ?? 100;
  return [
    defineRoute({
      method: 'GET', url: '/v1/search', access: 'client', tag: 'search', operationId: 'search',
      summary: 'Hybrid lexical + semantic search, typo-tolerant, optionally personalised',
      query: searchQuery(maxN),
      response: { status: 200, name: 'SearchResponse', schema: SearchResponseSchema, description: 'Ranked items with the retriever(s) that found each.' },
      errors: [400, 401],
      handler: async ({ query }) => {
        const userHistory = query.userId && opts.store ? await recentHistory(opts.store, query.userId, SEARCH_HISTORY_EVENTS, opts.eventWeights) : undefined;
        const r = await search.searchAsync({ q: query.q, n: query.n, tags: query.tags, creator: query.creator, userHistory, mode: query.mode });
        return { items: r.itemIds.map((itemId, i) => ({ itemId, score: r.scores[i], source: r.sources[i] })) };
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/suggest', access: 'client', tag: 'search', operationId: 'suggest',
      summary: 'Autocomplete over titles, creators and tags, most popular first',
      query: suggestQuery,
      response: { status: 200, name: 'SuggestResponse', schema: SuggestResponseSchema, description: 'Completions.' },
      errors: [400, 401],
      handler: async ({ query }) => ({ suggestions: await search.suggest(query.q, query.n) }),
    }),
  ];
}
