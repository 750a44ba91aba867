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

    it('items: insertItemsIfAbsent inserts only new ids and never overwrites a stored row', () =>
      withStore(async (s) => {
        await s.upsertItems([item('a', { title: 'kept' })]);
        const inserted = await s.insertItemsIfAbsent([item('a'), item('b', { createdAt: 42 }), item('b')]);
        assert.deepEqual(inserted.map((i) => i.id), ['b']);
        assert.equal((await s.getItem('a'))?.title, 'kept');
        assert.equal((await s.getItem('b'))?.createdAt, 42);
        assert.equal(await s.countItems(), 2);
        assert.deepEqual(await s.insertItemsIfAbsent([]), []);
        assert.equal(await s.deleteItem('b'), true);
        assert.deepEqual(await s.insertItemsIfAbsent([item('b')]), [], 'a deleted item is not re-created');
        assert.equal(await s.getItem('b'), undefined);
        await s.upsertItems([item('b')]);
        assert.equal((await s.getItem('b'))?.title, 't-b', 'an explicit upsert revives it');
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
        assert.equal(await s.getTombstone('user', 'never'), undefined, 'nothing deleted, no tombstone');
      }));

    it('deleteUser stays deleted: tombstone refuses the user, re-creation keeps pre-deletion events out', () =>
      withStore(async (s) => {
        await s.upsertUsers([{ id: 'u1', attributes: {}, createdAt: 1 }]);
        await s.appendEvents([event('a', 'u1', 'i', 100), event('b', 'u2', 'i', 100)]);
        await s.recordImpression({ requestId: 'r-u1', userId: 'u1', surface: 'home', timestamp: 5, itemIds: [], positions: [], scores: [], modelVersions: {} });
        await s.recordImpression({ requestId: 'r-u2', userId: 'u2', surface: 'home', timestamp: 5, itemIds: [], positions: [], scores: [], modelVersions: {} });
        assert.equal(await s.deleteUser('u1', { atMs: 1_000 }), true);
        assert.deepEqual(await s.getTombstone('user', 'u1'), { kind: 'user', id: 'u1', deletedAtMs: 1_000, active: true });
        assert.equal(await s.getImpression('r-u1'), undefined, 'impressions of the user are deleted');
        assert.ok(await s.getImpression('r-u2'), 'other users keep theirs');
        // The old id, a new event, and another user's event in one batch.
        const r = await s.appendEvents([event('a', 'u1', 'i', 100), event('n', 'u1', 'i', 2_000), event('c', 'u2', 'i', 100)]);
        assert.equal(r.written, 1);
        assert.equal(r.duplicates, 0);
        assert.deepEqual(r.refused.map((x) => [x.index, x.field]), [[0, 'userId'], [1, 'userId']]);
        assert.match(r.refused[0].message, /deleted/);
        // Re-creating the user clears the tombstone; events dated up to the deletion stay refused.
        await s.upsertUsers([{ id: 'u1', attributes: {}, createdAt: 2_000 }]);
        assert.equal((await s.getTombstone('user', 'u1'))?.active, false);
        const again = await s.appendEvents([event('a', 'u1', 'i', 100), event('n', 'u1', 'i', 2_000)]);
        assert.deepEqual(again.refused.map((x) => [x.index, x.field]), [[0, 'timestamp']]);
        assert.deepEqual(again.newEvents.map((e) => e.id), ['n']);
      }));

    it('deleteItem leaves a tombstone: events for the item are refused until it is upserted again', () =>
      withStore(async (s) => {
        await s.upsertItems([item('x'), item('y')]);
        await s.appendEvents([event('e1', 'u', 'x', 10)]);
        assert.equal(await s.deleteItem('x', { atMs: 50 }), true);
        assert.equal(await s.countEvents(), 1, 'past events of a deleted item stay in the log');
        const r = await s.appendEvents([event('e2', 'u', 'x', 60), event('e3', 'u', 'y', 60)]);
        assert.deepEqual(r.refused.map((x) => [x.index, x.field]), [[0, 'itemId']]);
        assert.equal(r.written, 1);
        await s.upsertItems([item('x')]);
        assert.equal(await s.getTombstone('item', 'x'), undefined);
        assert.equal((await s.appendEvents([event('e2', 'u', 'x', 60)])).written, 1);
      }));

    it('findEvents by user, item, time range and seq, in seq order, limited', () =>
      withStore(async (s) => {
        await s.appendEvents([
          event('a', 'u', 'i1', 10),
          event('b', 'v', 'i1', 20),
          event('c', 'u', 'i2', 30),
          event('d', 'u', 'i1', 40),
          event('e', 'v', 'i2', 50),
        ]);
        const ids = async (q: Parameters<Store['findEvents']>[0]) => (await s.findEvents(q)).map((e) => e.id);
        assert.deepEqual(await ids({ userId: 'u', limit: 10 }), ['a', 'c', 'd']);
        assert.deepEqual(await ids({ itemId: 'i1', limit: 10 }), ['a', 'b', 'd']);
        assert.deepEqual(await ids({ fromMs: 20, toMs: 50, limit: 10 }), ['b', 'c', 'd'], 'fromMs inclusive, toMs exclusive');
        assert.deepEqual(await ids({ userId: 'u', itemId: 'i1', fromMs: 15, limit: 10 }), ['d']);
        assert.deepEqual(await ids({ limit: 2 }), ['a', 'b']);
        const first = await s.findEvents({ limit: 2 });
        assert.deepEqual(await ids({ afterSeq: first[1].seq, limit: 2 }), ['c', 'd']);
        await assert.rejects(s.findEvents({ limit: 0 }));
      }));

    it('deleteEvents by ids or by query; deleted ids are refused afterwards; an empty selection is refused', () =>
      withStore(async (s) => {
        await s.appendEvents([
          event('a', 'u', 'i1', 10),
          event('b', 'v', 'i1', 20),
          event('c', 'u', 'i2', 30),
          event('d', 'u', 'i1', 40),
        ]);
        await assert.rejects(s.deleteEvents({}), /needs ids or at least one/);
        assert.equal(await s.countEvents(), 4);
        assert.equal(await s.deleteEvents({ ids: ['b', 'zz'] }), 1);
        assert.equal(await s.deleteEvents({ userId: 'u', fromMs: 30 }), 2);
        assert.deepEqual((await s.findEvents({ limit: 10 })).map((e) => e.id), ['a']);
        assert.deepEqual(await s.userEvents('u', 10).then((l) => l.map((e) => e.id)), ['a']);
        assert.equal(await s.countEvents(), 1);
        const r = await s.appendEvents([event('b', 'v', 'i1', 20), event('d', 'u', 'i1', 40), event('f', 'u', 'i1', 60)]);
        assert.deepEqual(r.refused.map((x) => [x.index, x.field]), [[0, 'id'], [1, 'id']]);
        assert.deepEqual(r.newEvents.map((e) => e.id), ['f']);
      }));

    it('counts follow inserts, duplicates and deletes exactly', () =>
      withStore(async (s) => {
        await s.upsertItems([item('a'), item('b')]);
        await s.upsertItems([item('a', { title: 'again' })]);
        await s.upsertUsers([{ id: 'u', attributes: {}, createdAt: 1 }, { id: 'v', attributes: {}, createdAt: 1 }]);
        await s.upsertUsers([{ id: 'u', attributes: { x: 1 }, createdAt: 1 }]);
        await s.appendEvents([event('1', 'u', 'a', 1), event('2', 'v', 'a', 1), event('3', 'ghost', 'a', 1), event('1', 'u', 'a', 1)]);
        assert.deepEqual([await s.countItems(), await s.countUsers(), await s.countEvents()], [2, 2, 3], 'a user id seen only in events is not a user');
        await s.deleteUser('u');
        await s.deleteItem('b');
        await s.deleteEvents({ ids: ['3'] });
        assert.deepEqual([await s.countItems(), await s.countUsers(), await s.countEvents()], [1, 1, 1]);
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
