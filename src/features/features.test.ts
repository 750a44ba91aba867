import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.js';
import type { Event } from '../core/schemas.js';
import { Catalog, DecayedCounters, OnlineFeatures, TopList, UserHistories, DEFAULT_FEATURES_CONFIG } from './index.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

test('decayed counters halve per half-life, accept out-of-order updates, and order by key like by value', () => {
  const c = new DecayedCounters(24 * H);
  c.add(0, 8, T0);
  assert.ok(Math.abs(c.valueAt(0, T0 + 24 * H) - 4) < 1e-9);
  assert.ok(Math.abs(c.valueAt(0, T0 + 72 * H) - 1) < 1e-9);
  c.add(1, 2, T0 + 48 * H);
  c.add(1, 2, T0 + 24 * H); // late event, earlier timestamp
  assert.ok(Math.abs(c.valueAt(1, T0 + 48 * H) - 3) < 1e-9);
  const rng = new Rng(1);
  for (let i = 2; i < 200; i++) c.add(i, rng.next() * 10, T0 + rng.next() * 240 * H);
  for (let k = 0; k < 500; k++) {
    const a = rng.int(200);
    const b = rng.int(200);
    const now = T0 + 300 * H;
    const va = c.valueAt(a, now);
    const vb = c.valueAt(b, now);
    if (Math.abs(va - vb) > 1e-9 * Math.max(va, vb)) assert.equal(c.key(a) > c.key(b), va > vb);
  }
  assert.ok(c.maxKey >= c.key(0) && c.maxKey >= c.key(1));
});

test('decayed counters stay finite over thousands of half-lives (landmark rebase)', () => {
  const c = new DecayedCounters(H);
  c.add(0, 1, T0);
  c.add(1, 1, T0 + 2_000 * H);
  c.add(1, 1, T0 + 4_000 * H);
  assert.ok(Math.abs(c.valueAt(1, T0 + 4_001 * H) - 0.5) < 1e-9);
  assert.equal(c.valueAt(0, T0 + 4_000 * H), 0);
  assert.ok(Number.isFinite(c.key(1)));
  assert.throws(() => new DecayedCounters(0), RangeError);
});

test('decayed counters: any finite input (year 275760, 1970, a clock behind the landmark) gives finite values', () => {
  const c = new DecayedCounters(24 * H);
  const rng = new Rng(3);
  const times = [0, T0, 8.64e15, T0 + 7 * 24 * H, 1, 8.64e15 - 1, T0 - 3 * 365 * 24 * H];
  let total = 0;
  for (let k = 0; k < 2_000; k++) {
    const w = (rng.next() - 0.3) * 200;
    total += Math.abs(w);
    c.add(rng.int(50), w, times[rng.int(times.length)]);
  }
  for (const now of [0, T0, 8.64e15, -1e15, 1e300]) {
    const f = c.factorAt(now);
    assert.ok(f >= 0 && f <= 1, `factor at ${now} is ${f}`);
    for (let ix = 0; ix < 60; ix++) {
      const v = c.valueAt(ix, now);
      assert.ok(Number.isFinite(v) && Math.abs(v) <= total, `value ${v} at ${now}`);
      assert.ok(Number.isFinite(c.key(ix) * f));
    }
  }
  assert.ok(Number.isFinite(c.maxKey));
  assert.equal(c.factorAt(NaN), 0);
});

test('history ring keeps the last N, sessions split on id change or gap, windows skip negatives and repeats', () => {
  const hs = new UserHistories({ size: 4, sessionGapMs: 30 * 60_000, maxConsumed: 3, hardNegativeWeight: -2 });
  const out = new Int32Array(5);
  for (let i = 0; i < 6; i++) hs.push(0, 10 + i, 1, T0 + i * 60_000, undefined);
  const h = hs.get(0)!;
  assert.equal(h.length, 4);
  assert.deepEqual([0, 1, 2, 3].map((k) => h.items[h.slot(k)]), [15, 14, 13, 12]);
  assert.equal(h.consumed.size, 3, 'consumed memory is bounded');
  assert.deepEqual([...h.consumed], [13, 14, 15]);
  // Same implicit session: window holds the newest distinct positives.
  assert.equal(hs.sessionWindow(0, 99, undefined, T0 + 6 * 60_000, 2 * H, out), 4);
  assert.deepEqual([...out.subarray(0, 4)], [15, 14, 13, 12]);
  assert.equal(hs.sessionWindow(0, 14, undefined, T0 + 6 * 60_000, 2 * H, out), -1, 'a repeat is not a new occurrence');
  // A long gap starts a new session: empty window.
  assert.equal(hs.sessionWindow(0, 99, undefined, T0 + 5 * H, 2 * H, out), 0);
  // Explicit session ids.
  hs.push(1, 1, 1, T0, 's1');
  hs.push(1, 2, -1, T0 + 1, 's1'); // skip: not a co-occurrence partner
  hs.push(1, 3, -3, T0 + 2, 's1'); // dislike: hard negative
  assert.equal(hs.sessionWindow(1, 7, 's1', T0 + 3, 2 * H, out), 1);
  assert.equal(out[0], 1);
  assert.equal(hs.sessionWindow(1, 7, 's2', T0 + 3, 2 * H, out), 0, 'another session id');
  assert.ok(hs.get(1)!.negative.has(3));
  hs.push(1, 3, 2, T0 + 4, 's1');
  assert.ok(!hs.get(1)!.negative.has(3), 'later positive feedback lifts the negative');
});

test('online features map ids, weigh events by type and ignore zero-weight types', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG);
  const ev = (type: string, itemId: string, t: number): Event => ({ id: `${type}${t}`, userId: 'u', itemId, type, timestamp: t });
  for (const [type, item] of [['play', 'a'], ['impression', 'b'], ['like', 'a'], ['unknown-type', 'c'], ['skip', 'd']] as const) {
    f.apply(f.resolve(ev(type, item, T0)));
  }
  assert.equal(f.eventsApplied, 5);
  assert.equal(f.catalog.size, 4);
  const a = f.catalog.ids.get('a');
  const d = f.catalog.ids.get('d');
  assert.ok(Math.abs(f.trendingAt(a, T0) - 4) < 1e-9, 'play 1 + like 3');
  assert.ok(f.trendingAt(d, T0) < 0, 'skips subtract');
  assert.equal(f.trendingAt(f.catalog.ids.get('b'), T0), 0);
  const h = f.histories.get(f.users.get('u'))!;
  assert.equal(h.length, 3, 'impression and unknown type leave no history');
  assert.equal(f.catalog.isServable(a, T0), false, 'ids seen only in events are not servable');
  f.upsertItem({ id: 'a', title: '', text: '', tags: [], attributes: {}, createdAt: T0 - 1, available: true, expiresAt: T0 + H });
  assert.equal(f.catalog.isServable(a, T0), true);
  assert.equal(f.catalog.isServable(a, T0 + H), false, 'expired');
});

test('top list: stays equal to a full sort under random increases; decreases mark it inexact until rebuilt', () => {
  const rng = new Rng(3);
  const keys = new Float64Array(500);
  const list = new TopList(32);
  const expected = (): number[] =>
    Array.from(keys.keys())
      .filter((i) => keys[i] > 0)
      .sort((a, b) => keys[b] - keys[a] || a - b)
      .slice(0, 32);
  for (let step = 0; step < 5_000; step++) {
    const ix = rng.int(500);
    keys[ix] += rng.next() * 3;
    list.update(ix, keys[ix]);
  }
  assert.equal(list.inexact, false);
  assert.deepEqual(Array.from(list.items.subarray(0, list.count)), expected());
  for (let k = 0; k < list.count; k++) assert.equal(list.keys[k], keys[list.items[k]]);
  // A small decrease that keeps the member above every non-member keeps the list exact.
  const top = list.items[0];
  keys[top] -= 1e-9;
  list.update(top, keys[top]);
  assert.equal(list.inexact, false);
  assert.deepEqual(Array.from(list.items.subarray(0, list.count)), expected());
  const member = list.items[0];
  keys[member] = 0.001;
  list.update(member, keys[member]);
  assert.equal(list.inexact, true);
  for (let k = 1; k < list.count; k++) assert.ok(list.keys[k] <= list.keys[k - 1], 'members stay sorted');
  list.rebuild(500, (ix) => keys[ix], 0);
  assert.equal(list.inexact, false);
  assert.deepEqual(Array.from(list.items.subarray(0, list.count)), expected());
});

test('catalog newest-first order stays sorted through inserts and createdAt changes', () => {
  const rng = new Rng(5);
  const cat = new Catalog();
  const put = (id: string, createdAt: number): void => {
    cat.upsert({ id, title: id, text: '', tags: [], attributes: {}, createdAt, available: true });
  };
  const check = (): void => {
    const want = Array.from({ length: cat.size }, (_, i) => i).sort((a, b) => cat.createdAtMs[b] - cat.createdAtMs[a] || a - b);
    assert.deepEqual([...cat.newestFirst()], want);
  };
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 50; k++) put(`x${rng.int(400)}`, T0 + rng.int(1000) * H);
    check();
  }
  assert.equal(cat.newestFirst(), cat.newestFirst(), 'no work without changes');
});
