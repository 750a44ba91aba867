import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Event, Item } from '../core/schemas.js';
import { generateSynthetic } from '../core/synth.js';
import { MemoryStore } from '../store/memory.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { createEngine, type Engine, type EngineConfigInput } from './index.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function item(id: string, over: Partial<Item> = {}): Item {
  return { id, creatorId: `c-${id}`, title: id, text: '', tags: [], attributes: {}, createdAt: T0 - 100 * H, available: true, ...over };
}

let seq = 0;
function ev(userId: string, itemId: string, type: string, t: number, sessionId?: string): Event {
  return { id: `ev${seq++}`, userId, itemId, type, timestamp: t, ...(sessionId ? { sessionId } : {}) };
}

/** Sessions of co-listening: every listed user plays the items in order within one session. */
function sessions(users: string[], items: string[], t: number): Event[] {
  return users.flatMap((u, k) => items.map((it, j) => ev(u, it, 'play', t + k * 10 * 60_000 + j * 60_000, `s-${u}-${t}`)));
}

const stores: [string, () => Promise<Store>][] = [
  ['memory', async () => new MemoryStore()],
  ['sqlite', () => openStore(':memory:')],
];

async function setup(
  makeStore: () => Promise<Store>,
  items: Item[],
  events: Event[],
  config?: EngineConfigInput,
): Promise<{ store: Store; engine: Engine; clock: ManualClock }> {
  const store = await makeStore();
  await store.upsertItems(items);
  await store.appendEvents(events);
  const clock = new ManualClock(T0 + 10 * H);
  const engine = await createEngine(store, { clock, config });
  return { store, engine, clock };
}

const catalog = Array.from({ length: 40 }, (_, i) => item(`i${i}`));
// Co-listening: i1 → i2 → i3 (strong), i1 → i4 (once: below min support), popular background i10..i19.
const history: Event[] = [
  ...sessions(['a', 'b', 'c'], ['i1', 'i2', 'i3'], T0),
  ...sessions(['d'], ['i1', 'i4'], T0),
  ...Array.from({ length: 30 }, (_, k) => ev(`bg${k}`, `i${10 + (k % 10)}`, 'play', T0 + 5 * H + k)),
  ...Array.from({ length: 10 }, (_, k) => ev(`bg${k}`, 'i10', 'like', T0 + 5 * H + k)),
  ev('me', 'i1', 'play', T0 + 9 * H, 'mine'),
];

for (const [name, makeStore] of stores) {
  describe(`engine on ${name} store`, () => {
    test('home: co-occurrence over the history first, then trending back-fill to exactly n; impression stored', async () => {
      const { store, engine } = await setup(makeStore, catalog, history);
      const r = await engine.recommend({ userId: 'me', surface: 'home', n: 12, explain: true });
      const ids = r.items.map((i) => i.itemId);
      assert.equal(ids.length, 12);
      assert.deepEqual(ids.slice(0, 2), ['i2', 'i3']);
      assert.equal(r.items[0].sources[0], 'cooc');
      assert.ok(!ids.includes('i1'), 'consumed item excluded');
      assert.ok(!ids.includes('i4'), 'below minimum support, and not trending');
      assert.equal(ids[2], 'i10', 'back-fill starts with the top trending item');
      assert.ok(r.items.slice(2).every((i) => i.sources.includes('trending') || i.sources.includes('fresh')));
      for (let k = 1; k < r.items.length; k++) assert.ok(r.items[k].score <= r.items[k - 1].score);
      assert.deepEqual((r.items[0].explanation as { because: { itemId: string }[] }).because[0].itemId, 'i1');
      assert.match(r.requestId, /^[0-9a-f-]{36}$/);
      const imp = await store.getImpression(r.requestId);
      assert.ok(imp);
      assert.deepEqual(imp.itemIds, ids);
      assert.deepEqual(imp.positions, ids.map((_, k) => k));
      assert.equal(imp.surface, 'home');
      assert.equal(imp.modelVersions.cooc, 'online');
      assert.equal(imp.modelVersions.trending, 'online');
      const s = engine.stats();
      assert.equal(s.items, 40);
      assert.equal(s.events, history.length);
      await engine.close();
      await store.close();
    });

    test('real time: new events make X co-occur with the history and X appears in the next response', async () => {
      const { store, engine, clock } = await setup(makeStore, catalog, history);
      const before = await engine.recommend({ userId: 'me', surface: 'home', n: 5 });
      assert.ok(!before.items.some((i) => i.itemId === 'i30'));
      const fresh = sessions(['x1', 'x2', 'x3', 'x4'], ['i1', 'i30'], T0 + 10 * H);
      const written = await store.appendEvents(fresh);
      engine.onEvents(written.newEvents);
      clock.advance(H);
      const after = await engine.recommend({ userId: 'me', surface: 'home', n: 5 });
      const x = after.items.find((i) => i.itemId === 'i30');
      assert.ok(x, `i30 in ${after.items.map((i) => i.itemId)}`);
      assert.ok(x.sources.includes('cooc'));
      // Trending moves too: a burst on i31 puts it on top.
      const burst = Array.from({ length: 30 }, (_, k) => ev(`y${k}`, 'i31', 'like', clock.nowMs() - 1));
      engine.onEvents((await store.appendEvents(burst)).newEvents);
      const trending = await engine.recommend({ userId: 'nobody', surface: 'trending', n: 3 });
      assert.equal(trending.items[0].itemId, 'i31');
      await store.close();
    });

    test('exclusions: consumed (configurable per surface), disliked (always), unavailable and expired items', async () => {
      const items = catalog.map((it) => (it.id === 'i11' ? { ...it, available: false } : it.id === 'i12' ? { ...it, expiresAt: T0 + 11 * H } : it));
      const events = [...history, ev('me', 'i10', 'play', T0 + 9 * H + 1), ev('me', 'i13', 'dislike', T0 + 9 * H + 2)];
      const cfg = { excludeConsumed: { trending: false } };
      const { store, engine, clock } = await setup(makeStore, items, events, cfg);
      const home = (await engine.recommend({ userId: 'me', surface: 'home', n: 30 })).items.map((i) => i.itemId);
      for (const gone of ['i1', 'i10', 'i11', 'i13']) assert.ok(!home.includes(gone), `${gone} excluded from home`);
      assert.ok(home.includes('i12'), 'not yet expired');
      const trending = (await engine.recommend({ userId: 'me', surface: 'trending', n: 30 })).items.map((i) => i.itemId);
      assert.equal(trending[0], 'i10', 'trending is configured to keep consumed items');
      assert.ok(!trending.includes('i13') && !trending.includes('i11'), 'dislikes and unavailable items stay out');
      clock.advance(2 * H);
      const later = (await engine.recommend({ userId: 'me', surface: 'home', n: 30, exclude: ['i2'] })).items.map((i) => i.itemId);
      assert.ok(!later.includes('i12'), 'expired');
      assert.ok(!later.includes('i2'), 'caller exclude list');
      engine.onItems([{ ...items[11], available: true }]);
      engine.onItemDeleted('i3');
      const again = (await engine.recommend({ userId: 'me', surface: 'home', n: 30 })).items.map((i) => i.itemId);
      assert.ok(again.includes('i11') && !again.includes('i3'), 'catalog updates apply at once');
      await store.close();
    });

    test('similar, next, fresh, cold users and bad requests', async () => {
      const items = [...catalog, item('new1', { createdAt: T0 + 9 * H, creatorId: 'c-i1' }), item('later', { createdAt: T0 + 20 * H })];
      const { store, engine } = await setup(makeStore, items, history);
      const sim = await engine.similar('i1', 3, { explain: true });
      assert.deepEqual(sim.items.map((i) => i.itemId).slice(0, 3), ['i2', 'i3', 'new1']);
      assert.deepEqual(sim.items[2].sources, ['creator'], 'same-creator back-fill for a new item');
      await assert.rejects(engine.similar('nope', 5), (e: unknown) => e instanceof NotFoundError && e.issues[0].path === 'itemId');
      await assert.rejects(engine.recommend({ userId: 'me', surface: 'similar', n: 5 }), ValidationError);
      const next = await engine.recommend({ userId: 'me', surface: 'next', n: 4, sessionId: 'mine' });
      assert.deepEqual(next.items.slice(0, 2).map((i) => i.itemId), ['i2', 'i3']);
      assert.deepEqual(next.items[0].sources.slice(0, 2), ['cooc-session', 'cooc']);
      const fresh = await engine.recommend({ userId: 'me', surface: 'fresh', n: 3 });
      assert.equal(fresh.items[0].itemId, 'new1', 'newest created item; scheduled "later" is not out yet');
      const cold = await engine.recommend({ userId: 'never-seen', surface: 'home', n: 10 });
      assert.equal(cold.items.length, 10);
      assert.equal(cold.items[0].itemId, 'i10');
      assert.equal(cold.items[0].sources[0], 'trending');
      for (const n of [0, -1, 501, 2.5]) {
        await assert.rejects(engine.recommend({ userId: 'me', surface: 'home', n }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'n');
      }
      await assert.rejects(engine.recommend({ userId: 'me', surface: 'search', n: 5 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'surface');
      await store.close();
    });
  });
}

test('warm-up from the store equals feeding the same events live', async () => {
  const data = generateSynthetic({ seed: 11, users: 200, items: 600, creators: 60, days: 7, eventsPerUser: 40, startMs: T0 });
  const clock = new ManualClock(T0 + 7 * 24 * H);
  const warmStore = new MemoryStore();
  await warmStore.upsertItems(data.items);
  await warmStore.appendEvents(data.events);
  const warmed = await createEngine(warmStore, { clock });
  const liveStore = new MemoryStore();
  await liveStore.upsertItems(data.items);
  const live = await createEngine(liveStore, { clock });
  live.onItems(data.items);
  for (let k = 0; k < data.events.length; k += 777) live.onEvents(data.events.slice(k, k + 777));
  for (const userId of ['u0', 'u17', 'u150']) {
    for (const surface of ['home', 'next', 'trending'] as const) {
      const a = await warmed.recommend({ userId, surface, n: 20 });
      const b = await live.recommend({ userId, surface, n: 20 });
      assert.deepEqual(a.items, b.items);
    }
  }
});

test('on synthetic data, session co-occurrence predicts the next item far better than trending', async () => {
  const data = generateSynthetic({ seed: 5, users: 400, items: 1_500, creators: 150, days: 14, eventsPerUser: 60, startMs: T0 });
  // Hold out each user's last play; replay everything before it.
  const lastPlay = new Map<string, number>();
  data.events.forEach((e, k) => {
    if (e.type === 'play') lastPlay.set(e.userId, k);
  });
  const held = new Set(lastPlay.values());
  const cutoff = new Set<number>();
  for (const k of held) cutoff.add(k);
  const store = new MemoryStore();
  await store.upsertItems(data.items);
  const clock = new ManualClock(T0);
  const engine = await createEngine(store, { clock });
  let hitsNext = 0, hitsTrending = 0, queries = 0;
  for (let k = 0; k < data.events.length; k++) {
    const e = data.events[k];
    if (held.has(k)) {
      clock.set(e.timestamp);
      const next = await engine.recommend({ userId: e.userId, surface: 'next', n: 20, sessionId: e.sessionId });
      const trending = await engine.recommend({ userId: e.userId, surface: 'trending', n: 20 });
      queries++;
      if (next.items.some((i) => i.itemId === e.itemId)) hitsNext++;
      if (trending.items.some((i) => i.itemId === e.itemId)) hitsTrending++;
    }
    engine.onEvents([e]);
  }
  const hrNext = hitsNext / queries;
  const hrTrending = hitsTrending / queries;
  assert.ok(queries > 300);
  assert.ok(hrNext > 1.5 * hrTrending && hrNext > 0.1, `HR@20 next ${hrNext.toFixed(3)} vs trending ${hrTrending.toFixed(3)}`);
});

test('a catalog without events still answers every surface (fresh back-fill); deleted users become cold', async () => {
  const store = new MemoryStore();
  await store.upsertItems(Array.from({ length: 30 }, (_, i) => item(`n${i}`, { createdAt: T0 - i * H })));
  const engine = await createEngine(store, { clock: new ManualClock(T0 + H) });
  for (const surface of ['home', 'next', 'trending', 'fresh'] as const) {
    const r = await engine.recommend({ userId: 'someone', surface, n: 25 });
    assert.equal(r.items.length, 25, surface);
    assert.equal(r.items[0].itemId, 'n0', `${surface}: newest first`);
    assert.deepEqual(r.items[0].sources, ['fresh']);
  }
  engine.onUsers([{ id: 'p', attributes: {}, createdAt: T0 }]);
  assert.equal(engine.stats().users, 1);
  const plays = sessions(['p', 'q', 'r'], ['n5', 'n6'], T0);
  engine.onEvents((await store.appendEvents(plays)).newEvents);
  const before = await engine.recommend({ userId: 'p', surface: 'next', n: 5 });
  assert.ok(!before.items.some((i) => i.itemId === 'n5' || i.itemId === 'n6'), 'consumed');
  const newSession = await engine.recommend({ userId: 'p', surface: 'next', n: 5, sessionId: 'brand-new' });
  assert.ok(newSession.items.every((i) => !i.sources.includes('cooc-session')), 'a new session has no session seeds');
  engine.onUserDeleted('p');
  const after = await engine.recommend({ userId: 'p', surface: 'home', n: 30 });
  assert.equal(after.items.length, 30, 'no consumed items left to exclude');
  assert.equal(engine.stats().events, plays.length);
});
