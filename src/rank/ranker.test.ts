/**
 * The learned multi-objective ranker: recovers planted per-outcome models, blends outcomes with the reward
 * weights, and — set on the engine — reorders the served page, shows up in explanations and model versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { Rng } from '../core/rng.js';
import type { Event, Item } from '../core/schemas.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../core/synth.js';
import { attachRegistry, createEngine, loadRanker, loadTwoTower, type OnlineEngine } from '../engine/index.js';
import { trainRankerFromStore } from '../train/index.js';
import { ModelRegistry } from '../registry/index.js';
import { MemoryStore } from '../store/memory.js';
import { MultiObjectiveRanker, NUM_RANK_FEATURES, RANK_FEATURES } from './index.js';

const F = NUM_RANK_FEATURES;
const col = (name: (typeof RANK_FEATURES)[number]): number => RANK_FEATURES.indexOf(name);

test('fit recovers planted outcome models; the blend ranks by weighted outcome probabilities', () => {
  const rng = new Rng(4);
  const n = 6_000;
  const x = new Float32Array(n * F);
  const y = new Uint8Array(n * 2);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < F; j++) x[r * F + j] = rng.normal();
    // play depends on popAll (+), skip on skipRate (+).
    const pPlay = 1 / (1 + Math.exp(-(2 * x[r * F + col('popAll')] - 0.5)));
    const pSkip = 1 / (1 + Math.exp(-(2.5 * x[r * F + col('skipRate')] - 1)));
    y[r * 2] = rng.next() < pPlay ? 1 : 0;
    y[r * 2 + 1] = rng.next() < pSkip ? 1 : 0;
  }
  const ranker = new MultiObjectiveRanker({ outcomes: ['play', 'skip'], weights: { play: 1, skip: -1 }, l2: 1e-4, learningRate: 0.05, epochs: 8, batchSize: 128, seed: 1 });
  const losses = ranker.fit({ n, x, y });
  assert.ok(losses.play < 0.55 && losses.skip < 0.55, JSON.stringify(losses));
  const top = ranker.topWeights(1);
  assert.equal(top.play[0].feature, 'popAll');
  assert.equal(top.skip[0].feature, 'skipRate');
  assert.ok(Math.abs(top.play[0].weight - 2) < 0.4 && Math.abs(top.skip[0].weight - 2.5) < 0.5, JSON.stringify(top));
  // Two candidates: equally playable, the second likely skipped → the blend puts the first ahead.
  const pair = new Float32Array(2 * F);
  pair[col('popAll')] = 1;
  pair[F + col('popAll')] = 1;
  pair[F + col('skipRate')] = 2;
  const out = new Float32Array(2);
  ranker.score(pair, 2, out);
  assert.ok(out[0] > out[1]);
  assert.throws(() => new MultiObjectiveRanker({ ...ranker.config, outcomes: [] }), RangeError);
});

test('set on the engine, the ranker reorders home (not trending) and is explained and versioned', async () => {
  const T0 = Date.UTC(2026, 0, 1);
  const items: Item[] = Array.from({ length: 20 }, (_, i) => ({ id: `i${i}`, creatorId: `c${i}`, title: `t${i}`, text: '', tags: [], attributes: {}, createdAt: T0 - 1e9, available: true }));
  const events: Event[] = [];
  // i0 is the most played but mostly skipped; i1..i19 fewer plays, no skips.
  for (let i = 0; i < 20; i++) for (let k = 0; k < 40 - i; k++) events.push({ id: `p${i}-${k}`, userId: `u${k}`, itemId: `i${i}`, type: 'play', timestamp: T0 + k });
  for (let k = 0; k < 60; k++) events.push({ id: `s${k}`, userId: `s${k}`, itemId: 'i0', type: 'skip', timestamp: T0 + 100 + k });
  const store = new MemoryStore();
  await store.upsertItems(items);
  await store.appendEvents(events);
  const engine = (await createEngine(store, { clock: new ManualClock(T0 + 3_600_000) })) as OnlineEngine;
  const before = await engine.recommend({ userId: 'me', surface: 'trending', n: 3 });
  assert.equal(before.items[0].itemId, 'i1', 'the skips already sink i0 in trending');
  // A hand-set ranker that only dislikes skip-prone items and likes all-time popularity.
  const ranker = new MultiObjectiveRanker({ outcomes: ['play', 'skip'], weights: { play: 1, skip: -2 }, l2: 0, learningRate: 0, epochs: 0, batchSize: 1, seed: 1 });
  ranker.w[col('popAll')] = -1; // play model: prefers the less played (a visible reversal)
  ranker.w[F + col('skipRate')] = 5;
  ranker.b[1] = -3;
  engine.setRanker(ranker, 'v-test');
  const pool = engine.rankingPool('me', 'trending', 50);
  assert.equal(pool.count, 20);
  assert.equal(pool.x.length, 20 * F);
  const after = await engine.recommend({ userId: 'me', surface: 'home', n: 3, explain: true });
  assert.deepEqual(after.items.map((i) => i.itemId), ['i19', 'i18', 'i17'], 'least played first');
  assert.equal(after.modelVersions.ranker, 'v-test');
  const e = after.items[0].explanation as { ranker: { outcomes: Record<string, number>; mainFeatures: { feature: string }[] } };
  assert.ok(e.ranker.outcomes.play > 0 && e.ranker.outcomes.skip > 0);
  assert.ok(e.ranker.mainFeatures.some((m) => m.feature === 'popAll'));
  const all = await engine.recommend({ userId: 'me', surface: 'home', n: 20 });
  assert.equal(all.items[19].itemId, 'i0', 'the skip-prone item last');
  const trending = await engine.recommend({ userId: 'me', surface: 'trending', n: 1 });
  assert.equal(trending.items[0].itemId, 'i1', 'trending keeps its own order');
  assert.equal(trending.modelVersions.ranker, undefined);
  engine.setRanker(undefined);
  assert.equal((await engine.recommend({ userId: 'me', surface: 'trending', n: 1 })).items[0].itemId, 'i1');
  await store.close();
});

test('two-tower item vectors: a candidate source on home and the space of embedding diversity', async () => {
  const T0 = Date.UTC(2026, 0, 1);
  const items: Item[] = Array.from({ length: 30 }, (_, i) => ({ id: `i${i}`, creatorId: `c${i}`, title: `t${i}`, text: '', tags: [], attributes: {}, createdAt: T0 - 1e9, available: true }));
  const store = new MemoryStore();
  await store.upsertItems(items);
  // 'me' played i0 only; nobody co-listened, trending is flat.
  await store.appendEvents([{ id: 'e0', userId: 'me', itemId: 'i0', type: 'play', timestamp: T0 }]);
  const engine = (await createEngine(store, { clock: new ManualClock(T0 + 60_000) })) as OnlineEngine;
  const before = await engine.recommend({ userId: 'me', surface: 'home', n: 3 });
  assert.ok(before.items.every((i) => !i.sources.includes('twotower')));
  // 2-d unit vectors on a circle: i(k) at angle k·12°, so i1, i29, i2 are i0's nearest.
  const ids = items.map((i) => i.id).concat(['unknown-to-catalog']);
  const v = new Float32Array(ids.length * 2);
  ids.forEach((_, k) => {
    v[2 * k] = Math.cos((k * 12 * Math.PI) / 180);
    v[2 * k + 1] = Math.sin((k * 12 * Math.PI) / 180);
  });
  engine.setItemVectors(ids, v, 'twotower@v1');
  const after = await engine.recommend({ userId: 'me', surface: 'home', n: 3, explain: true });
  assert.deepEqual(after.items.map((i) => i.itemId).slice(0, 2).sort(), ['i1', 'i29']);
  assert.ok(after.items[0].sources.includes('twotower'));
  assert.equal(after.modelVersions.twotower, 'twotower@v1');
  assert.throws(() => engine.setItemVectors(['a', 'b'], new Float32Array(3), 'x'), /do not split/);
  await store.close();
});

test('train-ranker job: trains on the store log, registers and activates; the engine serves with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-ranker-'));
  try {
    const data = generateSynthetic({ seed: 5, users: 300, items: 400, creators: 40, days: 10, eventsPerUser: 30, startMs: Date.UTC(2026, 0, 1) });
    const store = new MemoryStore();
    await store.upsertItems(data.items);
    await store.appendEvents(data.events);
    const registry = new ModelRegistry(dir);
    const s = await trainRankerFromStore(store, registry, { poolSize: 100, negatives: 20, epochs: 3 });
    assert.equal(s.activated, true);
    assert.deepEqual(s.outcomes, ['play', 'complete', 'like', 'skip']);
    assert.ok(s.trainExamples > 100 && s['valid.NDCG@10'] >= 0 && s['valid.NDCG@10'] <= 1);
    const engine = (await createEngine(store, { clock: new ManualClock(Date.UTC(2026, 0, 12)) })) as OnlineEngine;
    assert.equal(loadRanker(engine, registry), s.version);
    const r = await engine.recommend({ userId: data.users[0].id, surface: 'home', n: 10 });
    assert.equal(r.items.length, 10);
    assert.equal(r.modelVersions.ranker, `ranker@${s.version}`);
    const art = registry.load('ranker');
    assert.throws(() => MultiObjectiveRanker.fromArtifacts({ ...art.config, features: ['x'] }, art.weights), /feature list/);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry: the active two-tower item vectors and ranker are loaded, and activations are followed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-attach-'));
  try {
    const T0 = Date.UTC(2026, 0, 1);
    const items: Item[] = Array.from({ length: 12 }, (_, i) => ({ id: `i${i}`, creatorId: `c${i}`, title: `t${i}`, text: '', tags: [], attributes: {}, createdAt: T0 - 1e9, available: true }));
    const store = new MemoryStore();
    await store.upsertItems(items);
    await store.appendEvents([{ id: 'e0', userId: 'me', itemId: 'i0', type: 'play', timestamp: T0 }]);
    const engine = (await createEngine(store, { clock: new ManualClock(T0 + 60_000) })) as OnlineEngine;
    const registry = new ModelRegistry(dir);
    assert.equal(loadTwoTower(engine, registry), undefined, 'nothing active yet');
    const vectors = new Float32Array(12 * 2);
    for (let k = 0; k < 12; k++) {
      vectors[2 * k] = Math.cos((k * 30 * Math.PI) / 180);
      vectors[2 * k + 1] = Math.sin((k * 30 * Math.PI) / 180);
    }
    const v = registry.register('twotower', { config: {}, metrics: { 'valid.NDCG@10': 0.1 }, weights: { itemVectors: vectors }, files: { 'items.json': JSON.stringify(items.map((i) => i.id)) } });
    registry.activate('twotower', v);
    const logs: string[] = [];
    const stop = attachRegistry(engine, dir, (m) => logs.push(m));
    const r = await engine.recommend({ userId: 'me', surface: 'home', n: 2 });
    assert.deepEqual(r.items.map((i) => i.itemId).sort(), ['i1', 'i11']);
    assert.equal(r.modelVersions.twotower, `twotower@${v}`);
    assert.ok(logs.some((m) => m.includes('two-tower')));
    stop();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a content source back-fills similar and home before popularity (cold start)', async () => {
  const T0 = Date.UTC(2026, 0, 1);
  const items: Item[] = Array.from({ length: 10 }, (_, i) => ({ id: `i${i}`, creatorId: i < 5 ? 'ca' : 'cb', title: `t${i}`, text: '', tags: [], attributes: {}, createdAt: T0 - 1e9, available: true }));
  const store = new MemoryStore();
  await store.upsertItems(items);
  await store.appendEvents([{ id: 'e0', userId: 'me', itemId: 'i0', type: 'play', timestamp: T0 }]);
  const engine = (await createEngine(store, { clock: new ManualClock(T0 + 60_000) })) as OnlineEngine;
  const before = await engine.similar('i0', 2);
  assert.ok(before.items.every((i) => i.sources.includes('creator')), 'no co-occurrence: same creator');
  const ids = engine.features.catalog.ids;
  // "Content" says i0 is like i9 and i8 (other creator).
  engine.setContentSource({
    name: 'content',
    candidates: (ctx, n, out) => {
      out.count = 0;
      for (const id of ['i9', 'i8']) {
        const ix = ids.get(id);
        if (ctx.seedCount > 0 && ctx.filter.allows(ix) && out.count < n) {
          out.items[out.count] = ix;
          out.scores[out.count++] = 1 - out.count * 0.1;
        }
      }
    },
  });
  const sim = await engine.similar('i0', 3);
  assert.deepEqual(sim.items.map((i) => i.itemId).slice(0, 2), ['i9', 'i8']);
  assert.deepEqual(sim.items[0].sources, ['content']);
  const home = await engine.recommend({ userId: 'me', surface: 'home', n: 3 });
  assert.deepEqual(home.items.map((i) => i.itemId).slice(0, 2), ['i9', 'i8'], 'home back-fills with content before trending');
  engine.setContentSource(undefined);
  assert.ok((await engine.similar('i0', 2)).items.every((i) => i.sources.includes('creator')));
  await store.close();
});
