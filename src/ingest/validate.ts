/**
 * Batch validation shared by the HTTP batch routes and the importers: every row is checked on its own
 * (zod safeParse), so one bad row is reported with its path (`events[3].userId`) while the good rows
 * go through. The batch itself must be an array of at most LIMITS.batchSize rows.
 *
 * Normalisation after validation:
 * - Items/users without `createdAt` get the clock's now (the Ingestor keeps the stored value on updates).
 * - Events without `timestamp` get the clock's now.
 * - Events without `id` get a deterministic id: the event time in base 36 (so ids sort by time and the
 *   unique index is appended to, not scattered into) and a SHA-256 of the event's content (user, item,
 *   type, value, client timestamp, session, surface, request, position, context). A retried batch therefore
 *   maps to the same ids and is stored once. When the client sent neither an id nor a timestamp there
 *   is nothing to tell a retry from a genuine repeat (the same track played twice), so the receive time
 *   joins the hash and such events are not deduplicated across retries. Send `id` or `timestamp` to make
 *   retries idempotent.
 *
 * Time window (config `ingest`, checked against the injected clock): an event `timestamp` or user
 * `createdAt` more than `maxFutureSkewMs` ahead of now, an item `createdAt` more than
 * `maxItemScheduleAheadMs` ahead, an item `expiresAt` more than `maxExpiresAheadMs` ahead, or any of them
 * before `minTimestampMs` (1970 by default) is out of the window. With `timePolicy: 'reject'` the row is
 * rejected with an issue at the field (`events[2].timestamp`); with `'clamp'` a too-late event/creation
 * time becomes now, a too-late `expiresAt` the window's end, and a too-early value the window's start.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { DEFAULT_INGEST_CONFIG, type IngestConfig } from '../core/config.js';
import { issuesFromSchema, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { EventInput, ItemInput, LIMITS, UserInput, type Event, type Item, type User } from '../core/schemas.js';
import type { RejectedRow } from './types.js';

export type BatchField = 'items' | 'users' | 'events';

export interface ValidateOptions {
  /** Largest accepted batch (default and ceiling LIMITS.batchSize). */
  maxBatch?: number;
  /** Index of rows[0] in the caller's numbering (importers validate a file in chunks). */
  indexOffset?: number;
  /** Explicit index of each row in the caller's numbering (when rows are not contiguous); wins over indexOffset. */
  indexes?: readonly number[];
  /** Accepted time window of client timestamps (default DEFAULT_INGEST_CONFIG: reject, 5 min skew). */
  time?: IngestConfig;
}

export interface ValidatedBatch<T> {
  valid: T[];
  /** Original (offset-adjusted) index of each valid row, aligned with `valid`. */
  validIndexes: number[];
  rejected: RejectedRow[];
}

/** Validates each row of `rows` against `schema`; issue paths look like `events[3].userId`. */
export function validateBatch<S extends z.ZodType>(
  schema: S,
  rows: unknown,
  field: BatchField,
  opts: ValidateOptions = {},
): ValidatedBatch<z.output<S>> {
  const maxBatch = Math.min(opts.maxBatch ?? LIMITS.batchSize, LIMITS.batchSize);
  if (!Array.isArray(rows)) {
    throw new ValidationError(`${field} must be an array`, [{ path: field, message: 'expected an array of objects' }]);
  }
  if (rows.length > maxBatch) {
    throw new PayloadTooLargeError(`${field} has ${rows.length} rows; at most ${maxBatch} per batch`, [
      { path: field, message: `at most ${maxBatch} rows per batch` },
    ]);
  }
  const offset = opts.indexOffset ?? 0;
  const valid: z.output<S>[] = [];
  const validIndexes: number[] = [];
  const rejected: RejectedRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const index = opts.indexes?.[i] ?? offset + i;
    const r = schema.safeParse(rows[i]);
    if (r.success) {
      valid.push(r.data);
      validIndexes.push(index);
    } else {
      rejected.push({
        index,
        issues: issuesFromSchema(r.error.issues, `${field}[${index}]`),
      });
    }
  }
  return { valid, validIndexes, rejected };
}

/** Stable content id for an event that arrived without one (see the file header). */
export function deriveEventId(e: z.output<typeof EventInput>, receivedAtMs: number): string {
  const ctx = e.context === undefined ? null : Object.keys(e.context).sort().map((k) => [k, e.context![k]]);
  const content = JSON.stringify([
    e.userId,
    e.itemId,
    e.type,
    e.value ?? null,
    e.timestamp ?? null,
    e.sessionId ?? null,
    e.surface ?? null,
    e.requestId ?? null,
    e.position ?? null,
    ctx,
    e.timestamp === undefined ? receivedAtMs : null,
  ]);
  // Time-ordered prefix (like a ULID): the UNIQUE index on events.id then grows at its right edge instead
  // of taking random inserts, which made SQLite rewrite most index pages in every batch (4x slower).
  const timePart = Math.max(0, Math.floor(e.timestamp ?? receivedAtMs)).toString(36).padStart(9, '0');
  return `ev_${timePart}_${createHash('sha256').update(content).digest('base64url').slice(0, 22)}`;
}

/** One timestamp field of a row and its accepted window [minMs, maxMs]; `clampTo` replaces a value above maxMs. */
interface TimeField<T> {
  name: string;
  get(row: T): number | undefined;
  set(row: T, v: number): T;
  maxMs: number;
  clampTo: number;
  /** Describes the upper bound for the rejection message. */
  limit: string;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * Applies the time window to valid rows: rejects (with an issue at the field) or clamps every value
 * outside it. Rejected rows leave `valid` and join `rejected`, kept in index order.
 */
function applyTimeWindow<T>(b: ValidatedBatch<T>, field: BatchField, fields: TimeField<T>[], time: IngestConfig): ValidatedBatch<T> {
  const valid: T[] = [];
  const validIndexes: number[] = [];
  const rejected = [...b.rejected];
  let moved = false;
  for (let k = 0; k < b.valid.length; k++) {
    let row = b.valid[k];
    const index = b.validIndexes[k];
    const issues: { path: string; message: string }[] = [];
    for (const f of fields) {
      const v = f.get(row);
      if (v === undefined) continue;
      if (v >= time.minTimestampMs && v <= f.maxMs) continue;
      if (time.timePolicy === 'clamp') {
        row = f.set(row, v < time.minTimestampMs ? time.minTimestampMs : f.clampTo);
        continue;
      }
      issues.push({
        path: `${field}[${index}].${f.name}`,
        message:
          v < time.minTimestampMs
            ? `${iso(v)} is before the earliest accepted time ${iso(time.minTimestampMs)} (ingest.minTimestampMs)`
            : `${iso(v)} is more than ${f.limit}: at most ${iso(f.maxMs)}`,
      });
    }
    if (issues.length > 0) {
      rejected.push({ index, issues });
      moved = true;
    } else {
      valid.push(row);
      validIndexes.push(index);
    }
  }
  if (moved) rejected.sort((a, c) => a.index - c.index);
  return { valid, validIndexes, rejected };
}

function skewLimit(ms: number, name: string): string {
  return `${ms} ms ahead of server time (ingest.${name})`;
}

export function validateEvents(rows: unknown, clock: Clock = systemClock, opts: ValidateOptions = {}): ValidatedBatch<Event> {
  const b = validateBatch(EventInput, rows, 'events', opts);
  const now = clock.nowMs();
  const time = opts.time ?? DEFAULT_INGEST_CONFIG;
  const valid = b.valid.map((e): Event => {
    const { id, timestamp, ...rest } = e;
    return { ...rest, id: id ?? deriveEventId(e, now), timestamp: timestamp ?? now };
  });
  return applyTimeWindow({ ...b, valid }, 'events', [
    {
      name: 'timestamp',
      get: (e) => e.timestamp,
      set: (e, v) => ({ ...e, timestamp: v }),
      maxMs: now + time.maxFutureSkewMs,
      clampTo: now,
      limit: skewLimit(time.maxFutureSkewMs, 'maxFutureSkewMs'),
    },
  ], time);
}

/** Items with `createdAt` defaulted to now; `hadCreatedAt[i]` says whether the client sent one. */
export function validateItems(
  rows: unknown,
  clock: Clock = systemClock,
  opts: ValidateOptions = {},
): ValidatedBatch<Item> & { hadCreatedAt: boolean[] } {
  const b = validateBatch(ItemInput, rows, 'items', opts);
  const now = clock.nowMs();
  const time = opts.time ?? DEFAULT_INGEST_CONFIG;
  const withTime = b.valid.map((it) => ({ item: { ...it, createdAt: it.createdAt ?? now } as Item, had: it.createdAt !== undefined }));
  const checked = applyTimeWindow({ ...b, valid: withTime }, 'items', [
    {
      name: 'createdAt',
      get: (r) => r.item.createdAt,
      set: (r, v) => ({ ...r, item: { ...r.item, createdAt: v } }),
      maxMs: now + time.maxItemScheduleAheadMs,
      clampTo: now,
      limit: skewLimit(time.maxItemScheduleAheadMs, 'maxItemScheduleAheadMs'),
    },
    {
      name: 'expiresAt',
      get: (r) => r.item.expiresAt,
      set: (r, v) => ({ ...r, item: { ...r.item, expiresAt: v } }),
      maxMs: now + time.maxExpiresAheadMs,
      clampTo: now + time.maxExpiresAheadMs,
      limit: skewLimit(time.maxExpiresAheadMs, 'maxExpiresAheadMs'),
    },
  ], time);
  return { ...checked, valid: checked.valid.map((r) => r.item), hadCreatedAt: checked.valid.map((r) => r.had) };
}

export function validateUsers(
  rows: unknown,
  clock: Clock = systemClock,
  opts: ValidateOptions = {},
): ValidatedBatch<User> & { hadCreatedAt: boolean[] } {
  const b = validateBatch(UserInput, rows, 'users', opts);
  const now = clock.nowMs();
  const time = opts.time ?? DEFAULT_INGEST_CONFIG;
  const withTime = b.valid.map((u) => ({ user: { ...u, createdAt: u.createdAt ?? now } as User, had: u.createdAt !== undefined }));
  const checked = applyTimeWindow({ ...b, valid: withTime }, 'users', [
    {
      name: 'createdAt',
      get: (r) => r.user.createdAt,
      set: (r, v) => ({ ...r, user: { ...r.user, createdAt: v } }),
      maxMs: now + time.maxFutureSkewMs,
      clampTo: now,
      limit: skewLimit(time.maxFutureSkewMs, 'maxFutureSkewMs'),
    },
  ], time);
  return { ...checked, valid: checked.valid.map((r) => r.user), hadCreatedAt: checked.valid.map((r) => r.had) };
}
