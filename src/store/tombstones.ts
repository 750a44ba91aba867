/**
 * The refusal rules both adapters apply inside appendEvents, so that deleted data stays deleted whatever
 * a client re-sends: one home for the rule, the adapters only supply the lookups.
 *
 * - an event of a user with an active tombstone (deleted, not created again) is refused at `userId`;
 * - an event of a re-created user dated at or before the deletion is refused at `timestamp` (this is what
 *   keeps re-sent pre-deletion events out, whatever their ids);
 * - an event of a deleted item (not upserted again) is refused at `itemId`;
 * - an event whose id was deleted by deleteEvents is refused at `id`.
 */
import { ValidationError } from '../core/errors.js';
import type { Event } from '../core/schemas.js';
import type { EventDeletion, RefusedEvent, Tombstone } from './types.js';

export interface TombstoneLookup {
  tombstone(kind: Tombstone['kind'], id: string): Tombstone | undefined;
  eventDeleted(id: string): boolean;
}

/** Most ids one deleteEvents call may name. */
export const MAX_DELETE_IDS = 10_000;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Why `e` (input index i) must not be appended, or undefined when it may. */
export function refusalOf(e: Event, index: number, lookup: TombstoneLookup): RefusedEvent | undefined {
  const user = lookup.tombstone('user', e.userId);
  if (user?.active) {
    return { index, field: 'userId', message: `user was deleted at ${iso(user.deletedAtMs)}; events for it are refused until it is created again (POST /v1/users)` };
  }
  if (user && e.timestamp <= user.deletedAtMs) {
    return { index, field: 'timestamp', message: `predates the deletion of this user at ${iso(user.deletedAtMs)}; deleted data is not accepted again` };
  }
  const item = lookup.tombstone('item', e.itemId);
  if (item?.active) {
    return { index, field: 'itemId', message: `item was deleted at ${iso(item.deletedAtMs)}; events for it are refused until it is upserted again` };
  }
  if (lookup.eventDeleted(e.id)) return { index, field: 'id', message: 'this event was deleted; its id is not accepted again' };
  return undefined;
}

/** Throws ValidationError unless the selection names ids or at least one criterion, and its bounds are sane. */
export function checkEventDeletion(sel: EventDeletion): void {
  const hasQuery = sel.userId !== undefined || sel.itemId !== undefined || sel.fromMs !== undefined || sel.toMs !== undefined;
  if (sel.ids === undefined && !hasQuery) {
    throw new ValidationError('an event deletion needs ids or at least one of userId, itemId, fromMs, toMs', [
      { path: '(body)', message: 'empty selection: refusing to delete every event' },
    ]);
  }
  if (sel.ids !== undefined && (sel.ids.length === 0 || sel.ids.length > MAX_DELETE_IDS)) {
    throw new ValidationError(`ids must hold 1..${MAX_DELETE_IDS} event ids`, [{ path: 'ids', message: `1..${MAX_DELETE_IDS} ids` }]);
  }
  if (sel.fromMs !== undefined && sel.toMs !== undefined && sel.fromMs > sel.toMs) {
    throw new ValidationError('fromMs must not be after toMs', [{ path: 'fromMs', message: 'must be ≤ toMs' }]);
  }
}

/** True when the stored event matches the selection (the memory adapter's filter; SQL does the same). */
export function matchesSelection(e: Event, sel: EventDeletion): boolean {
  if (sel.userId !== undefined && e.userId !== sel.userId) return false;
  if (sel.itemId !== undefined && e.itemId !== sel.itemId) return false;
  if (sel.fromMs !== undefined && e.timestamp < sel.fromMs) return false;
  if (sel.toMs !== undefined && e.timestamp >= sel.toMs) return false;
  return true;
}
