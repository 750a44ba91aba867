import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { generateSynthetic } from '../core/synth.js';
import { Ingestor } from '../ingest/ingestor.js';
import { MemoryStore } from '../store/memory.js';
import { createEngine, type OnlineEngine } from './index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 2, 1);

async function world(): Promise<{ store: MemoryStore; clock: ManualClock; engine: OnlineEngine; itemIds: string[] }> {
  const store = new MemoryStore();
  await store.migrate();
  const data = generateSynthetic({ seed: 5, users: 120, items: 150, creators: 15, days: 10, eventsPerUser: 25, startMs: NOW - 10 * DAY });
  await store.upsertItems(data.items);
  await store.upsertUsers(data.users);
  await store.appendEvents(data.events);
  const clock = new ManualClock(NOW);
  const engine = (await createEngine(store, { clock, config: { warmBatchSize: 97 } })) as OnlineEngine;
  return { store, clock, engine, itemIds: data.items.map((i) => i.id) };
}

/** The event-derived state of `a` equals that of an engine warmed from scratch on the same store. */
async function assertMatchesFreshWarm(a: OnlineEngine, store: MemoryStore, clock: ManualClock, itemIds: string[]): Promise<void> {
  const b = (await createEngine(store, { clock })) as OnlineEngine;
  assert.equal(a.features.eventsApplied, b.features.eventsApplied, 'events applied');
  for (const id of itemIds) {
    const ia = a.features.catalog.ids.get(id);
    const ib = b.features.catalog.ids.get(id);
    const va = a.features.trendingAt(ia, NOW);
    const vb = b.features.trendingAt(ib, NOW);
    assert.ok(Math.abs(va - vb) <= 1e-9 * Math.max(1, vb), `trending of ${id}: ${va} vs ${vb}`);
    assert.equal(a.cooc.occurrencesOf(ia), b.cooc.occurrencesOf(ib), `co-occurrences of ${id}`);
  }
  for (const u of ['u0', 'u1', 'u2', 'u50']) {
    const ha = a.features.histories.get(a.features.users.get(u));
    const hb = b.features.histories.get(b.features.users.get(u));
    assert.equal(ha?.length ?? 0, hb?.length ?? 0, `history of ${u}`);
  }
  const ra = await a.recommend({ userId: 'u3', surface: 'home', n: 20 });
  const rb = await b.recommend({ userId: 'u3', surface: 'home', n: 20 });
  assert.deepEqual(ra.items.map((i) => i.itemId), rb.items.map((i) => i.itemId));
  await b.close();
}

test('rebuild after deletions equals a fresh warm-up; dense indexes stay the same', async () => {
  const { store, clock, engine, itemIds } = await world();
  const ixBefore = itemIds.map((id) => engine.features.catalog.ids.get(id));
  const deleted = await store.deleteEvents({ userId: 'u1' });
  assert.ok(deleted > 0);
  await store.deleteEvents({ fromMs: NOW - 2 * DAY, toMs: NOW - DAY });
  const r = await engine.rebuildOnline();
  assert.equal(r.events, await store.countEvents());
  assert.deepEqual(itemIds.map((id) => engine.features.catalog.ids.get(id)), ixBefore);
  await assertMatchesFreshWarm(engine, store, clock, itemIds);
  await engine.close();
});

test('events arriving during a rebuild are neither lost nor counted twice', async () => {
  const { store, clock, engine, itemIds } = await world();
  const ing = new Ingestor(store, engine, { clock });
  await store.deleteEvents({ userId: 'u2' });
  const running = engine.rebuildOnline();
  // Live traffic while the replay yields between batches.
  for (let k = 0; k < 5; k++) {
    await ing.ingestEvents(itemIds.slice(k * 3, k * 3 + 3).map((itemId, j) => ({ userId: `live${j}`, itemId, type: 'like', timestamp: NOW - 1_000 + k })));
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Committed during the replay, its live notification delivered only after the swap.
  const late = await store.appendEvents([{ id: 'late-1', userId: 'u7', itemId: itemIds[9], type: 'like', timestamp: NOW }]);
  await running;
  engine.onEvents(late.newEvents);
  await assertMatchesFreshWarm(engine, store, clock, itemIds);
  await engine.close();
});

test('a deletion during a rebuild queues exactly one more replay, shared by later callers', async () => {
  const { store, clock, engine, itemIds } = await world();
  const first = engine.rebuildOnline();
  await new Promise((resolve) => setImmediate(resolve));
  await store.deleteEvents({ userId: 'u0' });
  const second = engine.rebuildOnline();
  const third = engine.rebuildOnline();
  assert.equal(second, third);
  assert.notEqual(first, second);
  await Promise.all([first, second]);
  await assertMatchesFreshWarm(engine, store, clock, itemIds);
  await engine.close();
});

test('replay clamps event times to now + the accepted skew (an old log cannot poison the counters)', async () => {
  const { store, clock, engine, itemIds } = await world();
  const cold = itemIds[itemIds.length - 1];
  const before = engine.features.trendingAt(engine.features.catalog.ids.get(cold), NOW);
  await store.appendEvents([{ id: 'future', userId: 'p', itemId: cold, type: 'play', timestamp: NOW + 3 * 365 * DAY }]);
  const again = (await createEngine(store, { clock })) as OnlineEngine;
  const top = await again.recommend({ userId: 'newbie', surface: 'trending', n: 10 });
  assert.equal(top.items.length, 10);
  assert.ok(top.items.every((i) => i.sources.includes('trending')), 'trending is not emptied');
  const after = again.features.trendingAt(again.features.catalog.ids.get(cold), NOW);
  assert.ok(after - before > 0.99 && after - before <= 1.01, `the future play counts as about one play now (clamped to now + 5 min) (${before} -> ${after})`);
  await again.close();
  await engine.close();
});
