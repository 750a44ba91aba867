/**
 * The data model. Each zod schema is the validator, the TypeScript type (z.infer) and, via
 * z.toJSONSchema, the OpenAPI component: the shape is written once.
 * Objects are strict: unknown fields are rejected with their path, so a typo never silently drops data.
 */
import { z } from 'zod';

export const LIMITS = {
  idLength: 256,
  titleLength: 1_000,
  textLength: 20_000,
  tagLength: 100,
  tagsPerItem: 100,
  attributesPerEntity: 100,
  attributeStringLength: 2_000,
  batchSize: 10_000,
  maxN: 500,
} as const;

/** True when the string has a C0 control character (ids travel in URLs and logs). */
export function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

/**
 * True when the string is well-formed UTF-16: no lone surrogate. A lone surrogate cannot be encoded as
 * UTF-8, so it would be stored as invalid bytes and the id could never be named in a URL again.
 */
export function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return false; // a low surrogate without its high half
    const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (d < 0xdc00 || d > 0xdfff) return false; // a high surrogate without its low half
    i++;
  }
  return true;
}

export const NOT_WELL_FORMED = 'must be well-formed Unicode (no lone UTF-16 surrogate)';

/** Any text we store: strings must be well-formed Unicode (see isWellFormed). */
export function text() {
  return z.string().refine(isWellFormed, NOT_WELL_FORMED);
}

export const Id = z
  .string()
  .refine(isWellFormed, NOT_WELL_FORMED)
  .min(1, 'must not be empty')
  .max(LIMITS.idLength, `must be at most ${LIMITS.idLength} characters`)
  .refine((s) => !hasControlChars(s), 'must not contain control characters');
export type Id = z.infer<typeof Id>;

/**
 * A whole number in a query string, written the one canonical way: decimal digits, no sign, spaces,
 * leading zeros, exponent or hex (`n=0x10`, `n=1e2`, `n= 10`, `n=010`, `n=+10` are all 400s); at most
 * 16 digits. Add `.optional()` or `.default(v)` for an optional parameter.
 */
export function queryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, 'must be a whole number written in decimal digits (no sign, spaces, leading zeros or exponent)')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A decimal fraction in a query string (`0`, `0.25`, `1`): no sign, exponent, spaces or leading zeros. */
export function queryDecimal(min: number, max: number) {
  return z
    .string()
    .regex(/^(0|[1-9][0-9]*)(\.[0-9]+)?$/, 'must be a decimal number such as 0.5 (no sign, spaces or exponent)')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** Milliseconds since the epoch, or an ISO-8601 string (normalised to ms). */
export const Timestamp = z.union([
  z.number().int().min(0).max(8.64e15),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);

const AttributeValue = z.union([
  text().max(LIMITS.attributeStringLength),
  z.number().refine(Number.isFinite, 'must be finite'),
  z.boolean(),
  z.array(text().max(LIMITS.tagLength)).max(LIMITS.tagsPerItem),
]);
export const Attributes = z
  .record(text().min(1).max(LIMITS.tagLength), AttributeValue)
  .refine((o) => Object.keys(o).length <= LIMITS.attributesPerEntity, {
    message: `at most ${LIMITS.attributesPerEntity} attributes`,
  });
export type Attributes = z.infer<typeof Attributes>;

export const ItemInput = z.strictObject({
  id: Id,
  creatorId: Id.optional(),
  title: text().max(LIMITS.titleLength).default(''),
  text: text().max(LIMITS.textLength).default(''),
  tags: z.array(text().min(1).max(LIMITS.tagLength)).max(LIMITS.tagsPerItem).default([]),
  attributes: Attributes.default({}),
  createdAt: Timestamp.optional(),
  available: z.boolean().default(true),
  expiresAt: Timestamp.optional(),
});
export type ItemInput = z.input<typeof ItemInput>;
/** An item as stored: defaults applied, timestamps in ms. */
export type Item = Omit<z.output<typeof ItemInput>, 'createdAt'> & { createdAt: number };

export const UserInput = z.strictObject({
  id: Id,
  attributes: Attributes.default({}),
  createdAt: Timestamp.optional(),
});
export type UserInput = z.input<typeof UserInput>;
export type User = Omit<z.output<typeof UserInput>, 'createdAt'> & { createdAt: number };

export const EventType = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_-]*$/, 'must be lower-case letters, digits, _ or -');

export const Surface = z.enum(['home', 'next', 'similar', 'trending', 'fresh', 'search']);
export type Surface = z.infer<typeof Surface>;

export const EventInput = z.strictObject({
  /** Client-chosen id for idempotency: the same id twice is stored once. Generated when absent. */
  id: Id.optional(),
  userId: Id,
  itemId: Id,
  type: EventType,
  /** Optional magnitude (e.g. seconds played, rating). */
  value: z.number().refine(Number.isFinite, 'must be finite').optional(),
  timestamp: Timestamp.optional(),
  sessionId: Id.optional(),
  surface: text().max(64).optional(),
  /** The recommendation response this event answers, for attribution. */
  requestId: Id.optional(),
  position: z.number().int().min(0).max(10_000).optional(),
  context: z.record(text().max(64), z.union([text().max(256), z.number(), z.boolean()])).optional(),
});
export type EventInput = z.input<typeof EventInput>;
export type Event = Omit<z.output<typeof EventInput>, 'id' | 'timestamp'> & { id: string; timestamp: number };

/** Music defaults; configurable. Negative weights are negative feedback. */
export const DEFAULT_EVENT_WEIGHTS: Readonly<Record<string, number>> = {
  impression: 0,
  click: 0.5,
  play: 1,
  view: 1,
  complete: 2,
  like: 3,
  save: 3,
  share: 3,
  follow: 3,
  'search-click': 1,
  rating: 1,
  skip: -1,
  dislike: -3,
  block: -5,
};
