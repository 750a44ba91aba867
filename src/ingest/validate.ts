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
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
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

export function validateEvents(rows: unknown, clock: Clock = systemClock, opts: ValidateOptions = {}): ValidatedBatch<Event> {
  const b = validateBatch(EventInput, rows, 'events', opts);
  const now = clock.nowMs();
  const valid = b.valid.map((e): Event => {
    const { id, timestamp, ...rest } = e;
    return { ...rest, id: id ?? deriveEventId(e, now), timestamp: timestamp ?? now };
  });
  return { ...b, valid };
}

/** Items with `createdAt` defaulted to now; `hadCreatedAt[i]` says whether the client sent one. */
export function validateItems(
  rows: unknown,
  clock: Clock = systemClock,
  opts: ValidateOptions = {},
): ValidatedBatch<Item> & { hadCreatedAt: boolean[] } {
  const b = validateBatch(ItemInput, rows, 'items', opts);
  const now = clock.nowMs();
  const hadCreatedAt = b.valid.map((it) => it.createdAt !== undefined);
  const valid = b.valid.map((it): Item => ({ ...it, createdAt: it.createdAt ?? now }));
  return { ...b, valid, hadCreatedAt };
}

export function validateUsers(
  rows: unknown,
  clock: Clock = systemClock,
  opts: ValidateOptions = {},
): ValidatedBatch<User> & { hadCreatedAt: boolean[] } {
  const b = validateBatch(UserInput, rows, 'users', opts);
  const now = clock.nowMs();
  const hadCreatedAt = b.valid.map((u) => u.createdAt !== undefined);
  const valid = b.valid.map((u): User => ({ ...u, createdAt: u.createdAt ?? now }));
  return { ...b, valid, hadCreatedAt };
}
