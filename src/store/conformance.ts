/**
 * One conformance suite for every `Store` adapter (Gorse's storage seam, tested the same way): an adapter
 * is correct when `runStoreConformance('<name>', harness)` passes. Adapter test files call it; it uses
 * node:test `describe`/`it` and only the public `Store` interface.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Item, User } from '../core/schemas.js';
import type { Impression, Store, StoredEvent } from './types.js';

export interface StoreHarness {
  /** A fresh, empty, migrated store. */
  store: Store;
  /** Closes nothing; opens the same database again (after the caller closed `store`). Omit for volatile adapters. */
  reopen?: () => Promise<Store>;
  /** Removes whatever the harness created (files, schemas). */
  dispose?: () => Promise<void>;
}

function item(id: string, over: Partial<Item> = {}): Item {
  return { id, title: `t-${id}`, text: '', tags: [], attributes: {}, createdAt: 1_000, available: true, ...over };
}

function event(id: string, userId: string, itemId: string, timestamp: number, over: Partial<Event> = {}): Event {
  return { id, userId, itemId, type: 'play', timestamp, ...over };
}

async function collect(it: AsyncIterable<StoredEvent[]>): Promise<{ batches: number[]; events: StoredEvent[] }> {
  const batches: number[] = [];
  const events: StoredEvent[] = [];
  for await (const b of it) {
    batches.push(b.length);
    events.push(...b);
  }
  return { batches, events };
}

function strip(e: StoredEvent): Event {
  const { seq: _seq, ...rest } = e;
  return rest;
}

export function runStoreConformance(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`Store conformance: ${name}`, () => {
    async function withStore(fn: (s: Store, h: StoreHarness) => Promise<void>): Promise<void> {
      const h = await factory();
      try {
        await fn(h.store, h);
      } finally {
        await h.store.close();
        await h.dispose?.();
      }
    }

    it('migrate is idempotent and keeps data', () =>
      withStore(async (s) => {
        await s.upsertItems([item('a')]);
        await s.migrate();
        await s.migrate();
        assert.equal(await s.countItems(), 1);
      }));

    it('items: upsert replaces, get/getItems/delete, scan in id order with paging', () =>
      withStore(async (s) => {
        const full = item('b', {
          creatorId: 'c1',
          title: 'Bé',
          text: 'long text',
          tags: ['x', 'y'],
          attributes: { year: 1999, live: true, moods: ['calm'], lang: 'en' },
          available: false,
          expiresAt: 5_000,
        });
        assert.deepEqual(await s.upsertItems([item('c'), full, item('a')]), { written: 3, duplicates: 0 });
        assert.deepEqual(await s.getItem('b'), full);
        await s.upsertItems([item('b', { title: 'new' })]);
        const b = await s.getItem('b');
        assert.equal(b?.title, 'new');
        assert.equal(b?.creatorId, undefined, 'upsert replaces the whole item');
        assert.equal(await s.getItem('zz'), undefined);
        const many = await s.getItems(['a', 'zz', 'c']);
        assert.deepEqual([...many.keys()].sort(), ['a', 'c']);
        assert.deepEqual((await s.scanItems({ limit: 2 })).map((i) => i.id), ['a', 'b']);
        assert.deepEqual((await s.scanItems({ afterId: 'b', limit: 2 })).map((i) => i.id), ['c']);
        assert.equal(await s.countItems(), 3);
        assert.equal(await s.deleteItem('a'), true);
        assert.equal(await s.deleteItem('a'), false);
        assert.equal(await s.countItems(), 2);
      }));

    it('users: upsert, get, count', () =>
      withStore(async (s) => {
        const u: User = { id: 'u1', attributes: { age: 25, gender: 'F' }, createdAt: 7 };
        await s.upsertUsers([u, { id: 'u2', attributes: {}, createdAt: 8 }]);
        assert.deepEqual(await s.getUser('u1'), u);
        await s.upsertUsers([{ ...u, attributes: { age: 26 } }]);
        assert.deepEqual((await s.getUser('u1'))?.attributes, { age: 26 });
        assert.equal(await s.countUsers(), 2);
        assert.equal(await s.getUser('nobody'), undefined);
      }));

    it('events: idempotent append counts duplicates and reports only new events with increasing seq', () =>
      withStore(async (s) => {
        assert.equal(await s.lastEventSeq(), 0);
        const e1 = event('e1', 'u1', 'a', 100, {
          value: 2.5,
          sessionId: 's',
          surface: 'home',
          requestId: 'r1',
          position: 3,
          context: { device: 'ios', n: 1, ok: true },
        });
        const r1 = await s.appendEvents([e1, event('e2', 'u1', 'b', 200), event('e1', 'u1', 'a', 100)]);
        assert.equal(r1.written, 2);
        assert.equal(r1.duplicates, 1);
        assert.deepEqual(r1.newEvents.map((e) => e.id), ['e1', 'e2']);
        assert.ok(r1.newEvents[0].seq < r1.newEvents[1].seq);
        assert.deepEqual(strip(r1.newEvents[0]), e1);
        const r2 = await s.appendEvents([event('e2', 'u1', 'b', 200), event('e3', 'u2', 'a', 50)]);
        assert.deepEqual([r2.written, r2.duplicates], [1, 1]);
        assert.deepEqual(r2.newEvents.map((e) => e.id), ['e3']);
        assert.ok(r2.newEvents[0].seq > r1.newEvents[1].seq);
        assert.equal(await s.countEvents(), 3);
        assert.equal(await s.lastEventSeq(), r2.newEvents[0].seq);
        const { events } = await collect(s.scanEvents());
        assert.deepEqual(strip(events[0]), e1, 'all optional fields round-trip');
      }));

    it('events: a batch that fails writes nothing', () =>
      withStore(async (s) => {
        const broken = { id: 'x2', itemId: 'a', type: 'play', timestamp: 1 } as unknown as Event;
        await assert.rejects(s.appendEvents([event('x1', 'u', 'a', 1), broken]));
        assert.equal(await s.countEvents(), 0);
      }));

    it('events: scan in seq order, in bounded batches, after a seq', () =>
      withStore(async (s) => {
        const batch = Array.from({ length: 25 }, (_, i) => event(`e${i}`, `u${i % 3}`, `i${i}`, 1_000 - i));
        await s.appendEvents(batch);
        const all = await collect(s.scanEvents({ batchSize: 10 }));
        assert.deepEqual(all.batches, [10, 10, 5]);
        assert.deepEqual(all.events.map((e) => e.id), batch.map((e) => e.id));
        for (let i = 1; i < all.events.length; i++) assert.ok(all.events[i].seq > all.events[i - 1].seq);
        const tail = await collect(s.scanEvents({ afterSeq: all.events[19].seq, batchSize: 100 }));
        assert.deepEqual(tail.events.map((e) => e.id), ['e20', 'e21', 'e22', 'e23', 'e24']);
        assert.equal((await collect(s.scanEvents({ afterSeq: await s.lastEventSeq() }))).events.length, 0);
      }));

    it('events: userEvents newest first, limited', () =>
      withStore(async (s) => {
        await s.appendEvents([
          event('a', 'u', 'i1', 10),
          event('b', 'v', 'i2', 40),
          event('c', 'u', 'i3', 30),
          event('d', 'u', 'i4', 20),
        ]);
        assert.deepEqual((await s.userEvents('u', 2)).map((e) => e.id), ['c', 'd']);
        assert.deepEqual((await s.userEvents('u', 10)).map((e) => e.id), ['c', 'd', 'a']);
        assert.deepEqual(await s.userEvents('nobody', 5), []);
      }));

    it('deleteUser removes the user and cascades to their events only', () =>
      withStore(async (s) => {
        await s.upsertUsers([{ id: 'u1', attributes: {}, createdAt: 1 }, { id: 'u2', attributes: {}, createdAt: 1 }]);
        await s.appendEvents([event('a', 'u1', 'i', 1), event('b', 'u2', 'i', 2), event('c', 'u1', 'j', 3)]);
        assert.equal(await s.deleteUser('u1'), true);
        assert.equal(await s.getUser('u1'), undefined);
        assert.deepEqual(await s.userEvents('u1', 10), []);
        assert.equal(await s.countEvents(), 1);
        assert.equal(await s.countUsers(), 1);
        assert.equal(await s.deleteUser('u1'), false);
        assert.equal(await s.deleteUser('never'), false);
        // Re-appending a deleted event id is allowed: the old row is gone.
        assert.equal((await s.appendEvents([event('a', 'u1', 'i', 1)])).written, 1);
      }));

    it('impressions round-trip; unknown request id is undefined', () =>
      withStore(async (s) => {
        const imp: Impression = {
          requestId: 'req-1',
          userId: 'u',
          surface: 'home',
          timestamp: 123,
          itemIds: ['a', 'b'],
          positions: [0, 1],
          scores: [0.9, 0.25],
          propensities: [0.5, 0.125],
          variant: 'B',
          modelVersions: { sasrec: 'v3' },
        };
        await s.recordImpression(imp);
        assert.deepEqual(await s.getImpression('req-1'), imp);
        const bare: Impression = { ...imp, requestId: 'req-2' };
        delete bare.propensities;
        delete bare.variant;
        await s.recordImpression(bare);
        assert.deepEqual(await s.getImpression('req-2'), bare);
        assert.equal(await s.getImpression('nope'), undefined);
      }));

    it('meta: set, overwrite, get', () =>
      withStore(async (s) => {
        assert.equal(await s.getMeta('k'), undefined);
        await s.setMeta('k', 'v1');
        await s.setMeta('k', 'v2');
        assert.equal(await s.getMeta('k'), 'v2');
      }));

    it('reopen keeps data', () =>
      withStore(async (s, h) => {
        if (!h.reopen) return;
        await s.upsertItems([item('a')]);
        await s.appendEvents([event('e', 'u', 'a', 1)]);
        await s.setMeta('active', 'm1');
        await s.close();
        const again = await h.reopen();
        try {
          assert.equal(await again.countItems(), 1);
          assert.equal(await again.countEvents(), 1);
          assert.equal(await again.getMeta('active'), 'm1');
          assert.equal((await again.appendEvents([event('e', 'u', 'a', 1)])).duplicates, 1);
        } finally {
          await again.close();
        }
      }));
  });
}
