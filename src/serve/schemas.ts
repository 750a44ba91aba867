/**
 * The HTTP layer's shapes: path params, query strings and responses. Request rows reuse the data-model
 * schemas of src/core/schemas.ts; each schema here both validates (with field paths in the error) and
 * feeds /openapi.json, so the documentation cannot drift from the code.
 */
import { z } from 'zod';
import { EventInput, Id, ItemInput, Surface, UserInput, queryDecimal, queryInt } from '../core/schemas.js';
import type { LimitsConfig } from '../core/config.js';
import type { RecommendResponse } from '../engine/types.js';
import type { BatchResult } from '../ingest/types.js';
import { ModelsStatusSchema, TrainerStatusSchema } from '../train/status.js';

export { ModelsStatusSchema };

/** Surfaces answered by GET /v1/recommend (`similar` has its own route, `search` is not served yet). */
export const RecommendSurface = z.enum(['home', 'trending', 'fresh', 'next']);

/** Boolean query flags: `explain=true|false|1|0`. */
const QueryBool = z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1');

export const UserIdParams = z.strictObject({ userId: Id });
export const ItemIdParams = z.strictObject({ itemId: Id });
export const IdParams = z.strictObject({ id: Id });

/** `n` arrives as a string; strict decimal digits, so the error stays on the field (`n: must be at most 500`). */
function nField(maxN: number) {
  return queryInt(1, maxN).default(20);
}

/** Comma-separated ids, each a valid Id. */
function idList(maxCount: number) {
  return z
    .string()
    .max(maxCount * 260, 'list is too long')
    .transform((s) => s.split(',').filter((x) => x.length > 0))
    .pipe(z.array(Id).max(maxCount, `at most ${maxCount} ids`));
}

/** Comma-separated tags (a tag containing a comma cannot be excluded this way). */
function tagList(maxCount: number) {
  return z
    .string()
    .max(maxCount * 101, 'list is too long')
    .transform((s) => s.split(',').filter((x) => x.length > 0))
    .pipe(z.array(z.string().max(100, 'must be at most 100 characters')).max(maxCount, `at most ${maxCount} tags`));
}

export function recommendQuery(limits: LimitsConfig) {
  return z.strictObject({
    surface: RecommendSurface.default('home').meta({ description: 'home: personal feed; trending; fresh; next: continue the session' }),
    n: nField(limits.maxN).meta({ description: `Number of items, 1..${limits.maxN}` }),
    exclude: idList(limits.maxExclude).optional().meta({ description: `Comma-separated item ids not to return (at most ${limits.maxExclude})` }),
    excludeItems: idList(limits.maxExclude).optional().meta({ description: 'Same as exclude (the two lists are joined)' }),
    excludeCreators: idList(limits.maxExclude).optional().meta({ description: 'Comma-separated creator ids whose items not to return' }),
    excludeTags: tagList(100).optional().meta({ description: 'Comma-separated tags no returned item may carry (at most 100)' }),
    sessionId: Id.optional().meta({ description: 'The current session (surface next conditions on it)' }),
    explain: QueryBool.optional().meta({ description: 'Add per-item explanation (source scores, the history items behind it)' }),
    diversity: queryDecimal(0, 1)
      .optional()
      .meta({ description: 'MMR diversity of this page, 0 (relevance only) to 1 (most diverse); overrides the configured rerank.lambda' }),
  });
}

export function similarQuery(limits: LimitsConfig) {
  return z.strictObject({
    n: nField(limits.maxN).meta({ description: `Number of items, 1..${limits.maxN}` }),
    userId: Id.optional().meta({ description: "Exclude this user's consumed items and hard negatives" }),
    explain: QueryBool.optional().meta({ description: 'Add per-item explanation' }),
  });
}

/** Batch bodies: a JSON array of rows. Rows are validated one by one so a bad row rejects only itself. */
export const ItemBatch = z.array(ItemInput).meta({ description: 'A JSON array of items (at most limits.batchSize).' });
export const UserBatch = z.array(UserInput).meta({ description: 'A JSON array of users (at most limits.batchSize).' });
export const EventBatch = z.array(EventInput).meta({ description: 'A JSON array of events (at most limits.batchSize).' });

const FieldIssueSchema = z.object({ path: z.string(), message: z.string() });

export const ErrorBody = z.object({
  error: z.string().meta({ description: 'Machine-readable code: invalid_input, unauthorized, forbidden, not_found, …' }),
  message: z.string(),
  issues: z.array(FieldIssueSchema).optional(),
});

export const BatchResultSchema = z.object({
  accepted: z.number().int().meta({ description: 'Valid rows stored, including idempotent duplicates.' }),
  duplicates: z.number().int().meta({ description: 'Events whose id was already stored (stored once).' }),
  rejected: z.array(z.object({ index: z.number().int(), issues: z.array(FieldIssueSchema) })),
  itemsCreated: z
    .number()
    .int()
    .optional()
    .meta({ description: 'POST /v1/events: items created for events that referenced unknown items (autoInsertItems); absent when none.' }),
});

export const RecommendResponseSchema = z.object({
  requestId: z.string().meta({ description: 'Send it back on events (requestId) to attribute them to this response.' }),
  userId: z.string(),
  surface: Surface,
  items: z.array(
    z.object({
      itemId: z.string(),
      score: z.number(),
      sources: z.array(z.string()).meta({ description: 'Candidate sources that proposed the item.' }),
      explanation: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  modelVersions: z.record(z.string(), z.string()),
});

/** Items and users as stored: defaults applied, timestamps in ms since the epoch. */
export const StoredItem = ItemInput.extend({ createdAt: z.number().int(), expiresAt: z.number().int().optional() });
export const StoredUser = UserInput.extend({ createdAt: z.number().int() });

export const DeletedBody = z.object({ id: z.string(), deleted: z.literal(true) });

/** Most events one GET /v1/events page returns. */
export const MAX_EVENTS_PAGE = 1_000;

export const EventsQuery = z.strictObject({
  userId: Id.optional().meta({ description: "Only this user's events" }),
  itemId: Id.optional().meta({ description: 'Only events on this item' }),
  fromMs: queryInt(0, 8.64e15).optional().meta({ description: 'Only events at or after this time (ms since the epoch)' }),
  toMs: queryInt(0, 8.64e15).optional().meta({ description: 'Only events before this time (ms since the epoch)' }),
  afterSeq: queryInt(0, Number.MAX_SAFE_INTEGER).optional().meta({ description: 'Paging: only events after this log position (the previous page\'s nextAfterSeq)' }),
  limit: queryInt(1, MAX_EVENTS_PAGE).default(100).meta({ description: `Events per page, 1..${MAX_EVENTS_PAGE}` }),
});

const Ms = z.number().int('must be an integer').min(0).max(8.64e15);

export const EventDeletionBody = z
  .strictObject({
    ids: z.array(Id).min(1).max(10_000).optional().meta({ description: 'Event ids to delete (at most 10,000)' }),
    userId: Id.optional(),
    itemId: Id.optional(),
    fromMs: Ms.optional().meta({ description: 'Events at or after this time (ms since the epoch)' }),
    toMs: Ms.optional().meta({ description: 'Events before this time (ms since the epoch)' }),
  })
  .meta({ description: 'Which events to delete: ids and/or criteria, all of which must hold; an empty selection is refused.' });

export const StoredEventSchema = EventInput.extend({
  id: z.string(),
  timestamp: z.number().int(),
  seq: z.number().int().meta({ description: 'Position in the append-only log' }),
});

export const EventsPage = z.object({
  events: z.array(StoredEventSchema),
  nextAfterSeq: z.number().int().optional().meta({ description: 'Pass as afterSeq for the next page; absent on the last page' }),
});

export const EventsDeletedBody = z.object({
  deleted: z.number().int().meta({ description: 'Events removed from the log (their ids are refused from now on)' }),
  rebuild: z
    .object({ events: z.number().int(), ms: z.number() })
    .meta({ description: 'The online state was rebuilt from the remaining log before this response: events replayed, time taken' }),
});

export const HealthBody = z.object({
  status: z.literal('ok'),
  items: z.number().int().meta({ description: 'Items in the catalog (the store)' }),
  users: z.number().int().meta({ description: 'Users in the users table (ids seen only in events do not count)' }),
  events: z.number().int().meta({ description: 'Events in the log, deletions subtracted' }),
  modelVersions: z.record(z.string(), z.string()).meta({ description: 'What each source serves from: "online" or the trained model version (e.g. "sasrec@v3").' }),
  /** Per trainable model: the active version (null: none yet), ms since its activation, its validation NDCG@10. */
  models: z
    .record(z.string(), z.object({ version: z.string().nullable(), ageMs: z.number().nullable(), 'valid.NDCG@10': z.number().optional() }))
    .optional(),
  /** The trainer's state (details in GET /v1/models). */
  trainer: TrainerStatusSchema.pick({ status: true, model: true, nextRunAt: true }).extend({ lastRunOutcome: z.enum(['ok', 'partial', 'failed']).optional() }).optional(),
});

// Compile-time guards: the documented response shapes must match the engine/ingest contracts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _batchShape: Same<z.infer<typeof BatchResultSchema>, BatchResult> = true;
const _recShape: Same<z.infer<typeof RecommendResponseSchema>, RecommendResponse> = true;
void _batchShape;
void _recShape;
