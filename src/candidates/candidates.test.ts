import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.js';
import type { Item } from '../core/schemas.js';
import { OnlineFeatures, DEFAULT_FEATURES_CONFIG } from '../features/index.js';
import {
  CandidateBuffer,
  CooccurrenceIndex,
  CoocSource,
  FreshSource,
  MAX_TIERS,
  Merger,
  RequestFilter,
  SparseRow,
  TopK,
  TrendingSource,
  singleSeed,
  type CandidateContext,
  type CandidateSource,
} from './index.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function item(id: string, over: Partial<Item> = {}): Item {
  return { id, title: id, text: '', tags: [], attributes: {}, createdAt: T0 - 100 * H, available: true, ...over };
}

function context(f: OnlineFeatures, nowMs: number): { ctx: CandidateContext; filter: RequestFilter } {
  const filter = new RequestFilter(f.catalog).begin(nowMs);
  const ctx: CandidateContext = { nowMs, userIx: -1, filter, seedItems: new Int32Array(16), seedWeights: new Float32Array(16), seedCount: 0 };
  return { ctx, filter };
}

test('TopK matches a full sort (reference) on random scores with ties', () => {
  const rng = new Rng(3);
  const top = new TopK(64);
  const out = new CandidateBuffer(64);
  for (let round = 0; round < 50; round++) {
    const n = 1 + rng.int(300);
    const k = 1 + rng.int(64);
    const scores = Array.from({ length: n }, () => Math.floor(rng.next() * 20)); // many ties
    top.reset(k);
    scores.forEach((s, ix) => top.push(ix, s));
    top.drainInto(out);
    const ref = scores.map((s, ix) => [s, ix]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k);
    assert.equal(out.count, ref.length);
    assert.deepEqual([...out.items.subarray(0, out.count)], ref.map((r) => r[1]));
  }
});

test('SparseRow agrees with a Map under random adds and keeps the largest counts when pruned', () => {
  const rng = new Rng(5);
  const row = new SparseRow();
  const ref = new Map<number, number>();
  for (let k = 0; k < 5_000; k++) {
    const key = rng.int(700);
    row.add(key, 1);
    ref.set(key, (ref.get(key) ?? 0) + 1);
  }
  assert.equal(row.size, ref.size);
  for (const [key, v] of ref) assert.equal(row.get(key), v);
  assert.equal(row.get(100_000), 0);
  row.keepBest(50);
  assert.equal(row.size, 50);
  const kept = [...ref.entries()].filter(([key]) => row.get(key) > 0).map(([, v]) => v);
  const cut = [...ref.values()].sort((a, b) => b - a)[49];
  assert.ok(kept.every((v) => v >= cut));
});

test('trending ranks by decayed engagement: a fresh burst overtakes an older, bigger one', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG); // half-life 24 h
  for (const id of ['old', 'new', 'skipped']) f.upsertItem(item(id));
  const add = (id: string, type: string, t: number, times: number): void => {
    for (let k = 0; k < times; k++) f.apply(f.resolve({ id: `${id}${t}${k}`, userId: `u${k}`, itemId: id, type, timestamp: t }));
  };
  add('old', 'play', T0, 10);
  const src = new TrendingSource(f.catalog, f.trending, 16);
  const out = new CandidateBuffer(16);
  const at = (now: number): string[] => {
    src.candidates(context(f, now).ctx, 10, out);
    return [...out.items.subarray(0, out.count)].map((ix) => f.catalog.ids.id(ix));
  };
  assert.deepEqual(at(T0 + 1), ['old'], 'before the burst');
  add('new', 'play', T0 + 72 * H, 3);
  add('skipped', 'skip', T0 + 72 * H, 5);
  assert.deepEqual(at(T0 + 72 * H), ['new', 'old'], '3 now beats 10 three half-lives ago (1.25); negatives never trend');
  assert.ok(Math.abs(out.scores[0] - 3) < 1e-5 && Math.abs(out.scores[1] - 1.25) < 1e-5, 'scores are the decayed values');
});

test('trending from the maintained list equals the full scan, under filters and negative feedback, and scans only when the list runs out', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG);
  const rng = new Rng(11);
  for (let i = 0; i < 20_000; i++) f.upsertItem(item(`x${i}`));
  for (let k = 0; k < 30_000; k++) {
    const i = Math.floor(Math.pow(rng.next(), 1.5) * 20_000);
    f.apply(f.resolve({ id: `t${k}`, userId: `u${k % 50}`, itemId: `x${i}`, type: rng.next() < 0.1 ? 'skip' : 'play', timestamp: T0 + k * 1000 }));
  }
  const listed = new TrendingSource(f.catalog, f.trending, 1000, f.trendingTop);
  const scan = new TrendingSource(f.catalog, f.trending, 1000);
  const a = new CandidateBuffer(1000);
  const b = new CandidateBuffer(1000);
  const now = T0 + 40_000_000;
  const ranked = [...f.trendingTop.items.subarray(0, f.trendingTop.count)];
  for (const excluded of [0, 500, 8_100]) {
    const { ctx, filter } = context(f, now);
    for (let k = 0; k < excluded; k++) filter.exclude(ranked[k]);
    listed.candidates(ctx, 200, a);
    scan.candidates(ctx, 200, b);
    assert.deepEqual([...a.items.subarray(0, a.count)], [...b.items.subarray(0, b.count)], `excluding ${excluded}`);
    assert.deepEqual([...a.scores.subarray(0, a.count)], [...b.scores.subarray(0, b.count)]);
  }
  assert.equal(f.trendingTop.count, f.trendingTop.capacity);
  assert.equal(listed.scans, 1, 'only the request excluding 8,100 of the 8,192 listed items needed a scan');
});

test('co-occurrence: minimum support, cosine normalisation, session boundaries, repeats counted once', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG);
  const index = new CooccurrenceIndex({ window: 5, windowMs: 2 * H, minSupport: 2, maxNeighbours: 100, alpha: 0.5 });
  const win = new Int32Array(5);
  let seq = 0;
  const session = (user: string, sid: string, items: string[], type = 'play'): void => {
    for (const it of items) {
      const r = f.resolve({ id: `e${seq}`, userId: user, itemId: it, type, timestamp: T0 + seq++ * 60_000, sessionId: sid });
      if (r.weight > 0) {
        const k = f.histories.sessionWindow(r.userIx, r.itemIx, r.sessionKey, r.tMs, 2 * H, win);
        if (k >= 0) index.observe(r.itemIx, win, k);
      }
      f.apply(r);
    }
  };
  session('u1', 's1', ['a', 'b', 'a']); // the second a is a repeat within the window: one occurrence
  session('u2', 's2', ['a', 'b']);
  session('u3', 's3', ['a', 'c']);
  session('u4', 's4', ['b']);
  session('u4', 's5', ['c']); // other session: no pair b-c
  session('u5', 's6', ['a', 'd'], 'skip'); // negative feedback forms no pairs
  const ix = (id: string): number => f.catalog.ids.get(id);
  assert.equal(index.occurrencesOf(ix('a')), 3);
  assert.equal(index.occurrencesOf(ix('b')), 3);
  assert.equal(index.count(ix('a'), ix('b')), 2);
  assert.equal(index.count(ix('b'), ix('a')), 2, 'symmetric');
  assert.equal(index.count(ix('a'), ix('c')), 1);
  assert.equal(index.count(ix('b'), ix('c')), 0);
  assert.ok(Math.abs(index.similarity(ix('a'), ix('b')) - 2 / 3) < 1e-9, 'c / sqrt(n_a n_b) = 2 / sqrt(3·3)');
  assert.equal(index.similarity(ix('a'), ix('c')), 0, 'below minimum support');
  assert.equal(index.count(ix('a'), ix('d')), 0);

  for (const id of ['a', 'b', 'c', 'd']) f.upsertItem(item(id));
  const src = new CoocSource(index, 16);
  const { ctx, filter } = context(f, T0 + 100 * H);
  singleSeed(ctx, ix('a'));
  filter.exclude(ix('a'));
  const out = new CandidateBuffer(16);
  src.candidates(ctx, 10, out);
  assert.deepEqual([...out.items.subarray(0, out.count)], [ix('b')]);
});

test('neighbour rows stay bounded under heavy traffic', () => {
  const index = new CooccurrenceIndex({ window: 3, windowMs: H, minSupport: 1, maxNeighbours: 40, alpha: 0.5 });
  const rng = new Rng(9);
  const win = new Int32Array(3);
  for (let k = 0; k < 20_000; k++) {
    win[0] = 1 + rng.int(2_000);
    win[1] = 1 + rng.int(50); // a popular cluster
    index.observe(0, win, 2);
  }
  let neighbours = 0;
  let strongest = 0;
  index.forEachNeighbour(0, (j, sim) => {
    neighbours++;
    if (j <= 50 && sim > strongest) strongest = sim;
  });
  assert.ok(neighbours <= 40, `${neighbours} neighbours`);
  assert.ok(strongest > 0, 'the frequent partners survive pruning');
});

test('fresh prefers new items, lifted lightly by engagement; future and expired items are excluded', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG);
  const now = T0 + 10 * 24 * H;
  f.upsertItem(item('ancient', { createdAt: T0 - 300 * 24 * H }));
  f.upsertItem(item('week', { createdAt: now - 7 * 24 * H }));
  f.upsertItem(item('day', { createdAt: now - 24 * H }));
  f.upsertItem(item('day-popular', { createdAt: now - 24 * H }));
  f.upsertItem(item('future', { createdAt: now + H }));
  f.upsertItem(item('expired', { createdAt: now - H, expiresAt: now - 1 }));
  f.upsertItem(item('hidden', { createdAt: now - H, available: false }));
  for (let k = 0; k < 20; k++) f.apply(f.resolve({ id: `p${k}`, userId: `u${k}`, itemId: 'day-popular', type: 'play', timestamp: now - H }));
  const src = new FreshSource(f.catalog, f.trending, { halfLifeMs: 3 * 24 * H, popularityWeight: 0.1 }, 16);
  const out = new CandidateBuffer(16);
  src.candidates(context(f, now).ctx, 10, out);
  const ids = [...out.items.subarray(0, out.count)].map((ix) => f.catalog.ids.id(ix));
  assert.deepEqual(ids, ['day-popular', 'day', 'week', 'ancient']);
  assert.ok(Math.abs(out.scores[1] - Math.pow(2, -1 / 3)) < 1e-6, 'score of an untouched day-old item is 2^(-1/3)');
  for (let k = 1; k < out.count; k++) assert.ok(out.scores[k] <= out.scores[k - 1]);
});

/** A fixed list source for merger tests. */
function fixed(name: string, entries: [number, number][]): CandidateSource {
  return {
    name,
    candidates(ctx, n, out) {
      out.count = 0;
      for (const [ix, s] of entries) {
        if (out.count >= n) break;
        if (!ctx.filter.allows(ix)) continue;
        out.items[out.count] = ix;
        out.scores[out.count++] = s;
      }
    },
  };
}

test('merger blends, dedups, records sources and back-fills to exactly n with descending scores', () => {
  const f = new OnlineFeatures(DEFAULT_FEATURES_CONFIG);
  for (let i = 0; i < 20; i++) f.upsertItem(item(`i${i}`));
  const { ctx, filter } = context(f, T0);
  filter.exclude(7);
  const merger = new Merger(32);
  const a = fixed('a', [[1, 10], [2, 5], [3, 1]]);
  const b = fixed('b', [[2, 4], [4, 2]]);
  const fill = fixed('fill', [[1, 9], [7, 8], [8, 7], [9, 6], [10, 5], [11, 4]]);
  const m = merger.merge(ctx, [{ source: a, quota: 10 }, { source: b, quota: 10, weight: 0.5 }, { source: fill, quota: 10, fill: true }], 7);
  const got = [...m.items.subarray(0, m.count)];
  // blend: 1 → 1.0, 2 → 0.5 + 0.5·1 = 1.0 (tie → lower ix first), 4 → 0.25, 3 → 0.1; fill: 8, 9, 10 (1 placed, 7 excluded)
  assert.deepEqual(got, [1, 2, 4, 3, 8, 9, 10]);
  for (let k = 1; k < m.count; k++) assert.ok(m.scores[k] < m.scores[k - 1] || (k === 1 && m.scores[k] === m.scores[0]));
  const names = (k: number): string[] => m.sourceNames.filter((_, t) => m.sourceMask[k] & (1 << t));
  assert.deepEqual(names(0), ['a', 'fill'], 'the fill source also proposed item 1');
  assert.deepEqual(names(1), ['a', 'b']);
  assert.deepEqual(names(4), ['fill']);
  assert.equal(m.rawScores[1 * MAX_TIERS + 1], 4, 'raw score of source b for item 2');
  assert.ok(Number.isNaN(m.rawScores[3 * MAX_TIERS + 1]), 'b did not propose item 3');
  // Not enough candidates anywhere: fewer than n, never duplicates.
  const small = merger.merge(ctx, [{ source: a, quota: 10 }, { source: fill, quota: 10, fill: true }], 30);
  const ids = [...small.items.subarray(0, small.count)];
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(small.count, 7);
});
