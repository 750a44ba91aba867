// The learned blend on the served path: after two-tower and SASRec are trained and the blend job has
// chosen their weights on held-out users, `home` is the offline blend's ranking (Σ w·z over the whole
// catalogue, consumed items excluded) — checked against the models' own batch scorers — and the blend
// job's guard refuses weights that do worse than the heuristic pipeline on the same held-out users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sequencesFromLists } from '../src/core/dataset.js';
import { generateSynthetic } from '../src/core/synth.js';
import { loadTrainingData, trainFromStore, trainRankerFromStore } from '../src/train/index.js';
import { createEngine, attachRegistry, loadRanker, type OnlineEngine } from '../src/engine/index.js';
import { standardizeRows } from '../src/models/blend.js';
import { ModelRegistry } from '../src/registry/index.js';
import { SasrecRecommender } from '../src/models/sasrec-train.js';
import { TwoTowerRecommender } from '../src/models/twotower-train.js';
import type { Recommender } from '../src/models/types.js';
import { openStore } from '../src/store/index.js';
import { trainBlendFromStore } from '../src/train/blend.js';

const TT = { dim: 16, hidden: 24, historyLen: 20, batchSize: 64, sampledNegatives: 32, maxEpochs: 3 };
const SR = { maxLen: 20, dim: 16, blocks: 1, heads: 1, batchSize: 32, maxEpochs: 3, validUsers: 50, warmupSteps: 2, threads: 1 };

test('served home is the validated blend of the trained models, and the blend job guards its activation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-learned-'));
  const store = await openStore(':memory:');
  try {
    const world = generateSynthetic({ seed: 21, users: 150, items: 90, creators: 12, days: 12, eventsPerUser: 30, startMs: 1_700_000_000_000 });
    await store.upsertItems(world.items);
    await store.upsertUsers(world.users);
    await store.appendEvents(world.events);
    const registry = new ModelRegistry(dir);
    const tt = await trainFromStore(store, registry, { model: 'twotower', seed: 1, params: TT });
    const sr = await trainFromStore(store, registry, { model: 'sasrec', seed: 1, params: SR });
    assert.ok(tt.activated && sr.activated);

    const job = await trainBlendFromStore(store, registry, { validUsers: 100, grid: 10 });
    assert.equal(job.users, 100);
    assert.ok(Math.abs(job.weights.sasrec + job.weights.twotower - 1) < 1e-9, JSON.stringify(job.weights));
    for (const k of ['valid.NDCG@10', 'heuristic.valid.NDCG@10'] as const) assert.ok(job[k] >= 0 && job[k] <= 1, `${k} ${job[k]}`);
    // The guard: activated exactly when the blend is at least the heuristic pipeline on the held-out users.
    assert.equal(job.activated, job['valid.NDCG@10'] >= job['heuristic.valid.NDCG@10'], JSON.stringify(job));
    if (!job.activated) assert.match(job.reason ?? '', /heuristic/);

    // Serve fixed weights (so the check does not depend on which way the guard went).
    const w = { sasrec: 0.6, twotower: 0.4 };
    const v = registry.register('blend', { config: { weights: w }, metrics: { 'valid.NDCG@10': 1 }, weights: {} });
    registry.activate('blend', v, { force: true });
    const engine = (await createEngine(store)) as OnlineEngine;
    const stop = attachRegistry(engine, dir, () => undefined, { intervalMs: 60_000 });
    try {
      assert.ok(engine.stats().modelVersions.blend?.startsWith('blend@'));
      // Expected: each model scores the user's whole positive history; z per user; Σ w·z; consumed excluded.
      const data = await loadTrainingData(store);
      const load = (name: 'twotower' | 'sasrec'): { rec: Recommender; ids: string[] } => {
        const art = registry.load(name);
        const rec = name === 'sasrec' ? SasrecRecommender.fromArtifacts(art.config, art.weights, { threads: 1 }) : TwoTowerRecommender.fromArtifacts(art.config, art.weights);
        return { rec, ids: JSON.parse(art.files!['items.json']) as string[] };
      };
      const models = { twotower: load('twotower'), sasrec: load('sasrec') };
      const consumed = new Map<string, Set<string>>();
      for (const e of world.events) {
        let s = consumed.get(e.userId);
        if (!s) consumed.set(e.userId, (s = new Set()));
        s.add(e.itemId);
      }
      // Expired or unavailable items are never served.
      const now = Date.now();
      const servable = new Set(world.items.filter((it) => it.available !== false && !(it.expiresAt !== undefined && it.expiresAt <= now)).map((it) => it.id));
      assert.ok(servable.size < world.items.length, 'the world has expired items, so the check covers the filter');
      let checked = 0;
      for (let u = 0; u < data.userIds.length && checked < 15; u++) {
        const full = Array.from(data.train.items.subarray(data.train.offsets[u], data.train.offsets[u + 1]), (i) => data.itemIds[i]);
        if (data.validTargets[u] >= 0) full.push(data.itemIds[data.validTargets[u]]);
        if (full.length < 2) continue;
        const mixed = new Map<string, number>();
        for (const name of ['twotower', 'sasrec'] as const) {
          const { rec, ids } = models[name];
          const row = new Map(ids.map((id, r) => [id, r]));
          const hist = sequencesFromLists([full.map((id) => row.get(id)!).filter((r) => r !== undefined)], ids.length);
          const out = new Float32Array(ids.length);
          await rec.scoreBatch(hist, Int32Array.of(0), out);
          standardizeRows(out, 1, ids.length);
          ids.forEach((id, r) => mixed.set(id, (mixed.get(id) ?? 0) + w[name] * out[r]));
        }
        const seen = consumed.get(data.userIds[u])!;
        const expected = [...mixed].filter(([id]) => !seen.has(id) && servable.has(id)).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([id]) => id);
        const r = await engine.recommend({ userId: data.userIds[u], surface: 'home', n: 10 });
        assert.deepEqual(r.items.map((i) => i.itemId), expected, `user ${data.userIds[u]}`);
        assert.ok(r.items.every((i) => i.sources[0] === 'blend' && Number.isFinite(i.score)));
        assert.match(r.modelVersions.blend ?? '', /^blend@v\d+\(sasrec@v\d+,twotower@v\d+\)$/);
        checked++;
      }
      assert.equal(checked, 15);
      // A cold user has no history the models can read: the heuristic tiers answer.
      const cold = await engine.recommend({ userId: 'nobody', surface: 'home', n: 10 });
      assert.equal(cold.items.length, 10);
      assert.ok(cold.items.every((i) => !i.sources.includes('blend')));
      for (const m of Object.values(models)) await m.rec.dispose?.();

      // The ranker trains on the blend's pools, and is served only if it beats their order on held-out users.
      const rk = await trainRankerFromStore(store, registry, { poolSize: 60, negatives: 20, epochs: 3 });
      assert.equal(registry.metrics('ranker', rk.version).learnedPools, 1);
      assert.equal(rk.activated, rk['valid.NDCG@10'] >= rk['valid.poolNDCG@10'], JSON.stringify(rk));
      if (rk.activated) {
        loadRanker(engine, registry);
        const r = await engine.recommend({ userId: data.userIds[0], surface: 'home', n: 10 });
        assert.ok(r.modelVersions.ranker?.startsWith('ranker@') && r.modelVersions.blend !== undefined);
      }
    } finally {
      stop();
      await engine.close();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
