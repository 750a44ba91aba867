import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../core/rng.js';
import type { Event, Item } from '../core/schemas.js';
import { ModelRegistry } from '../registry/index.js';
import { TwoTowerRecommender } from '../models/twotower-train.js';
import { openStore } from '../store/index.js';
import { loadTrainingData, trainFromStore } from './index.js';

const PARAMS = { dim: 8, hidden: 16, historyLen: 8, batchSize: 32, sampledNegatives: 16, maxEpochs: 3, temperature: 0.1, lr: 5e-3, warmupSteps: 5 };

async function seededStore(): Promise<Awaited<ReturnType<typeof openStore>>> {
  const store = await openStore(':memory:');
  const items: Item[] = Array.from({ length: 40 }, (_, i) => ({
    id: `i${i}`, title: `song ${i % 4}`, text: '', tags: [`g${i % 4}`], attributes: {}, available: true, createdAt: 0, creatorId: `a${i % 8}`,
  }));
  await store.upsertItems(items);
  const rng = new Rng(3);
  const events: Event[] = [];
  for (let u = 0; u < 60; u++) {
    for (let t = 0; t < 12; t++) {
      const item = (u % 4) + 4 * rng.int(10);
      // Written out of time order on purpose: the loader must sort by timestamp.
      events.push({ id: `e${u}-${t}`, userId: `u${u}`, itemId: `i${item}`, type: t === 5 ? 'skip' : 'play', timestamp: 1_000_000 + (12 - t) * 1000 });
    }
  }
  await store.appendEvents(events);
  return store;
}

test('loadTrainingData sorts by time, drops negative feedback and holds out the last item', async () => {
  const store = await seededStore();
  try {
    const d = await loadTrainingData(store);
    assert.equal(d.userIds.length, 60);
    assert.equal(d.itemIds.length, 40);
    assert.equal(d.events, 60 * 11); // the skip is not a positive
    const u0 = d.userIds.indexOf('u0');
    // 11 positives, one consecutive repeat of an item collapsed, the newest held out.
    assert.equal(d.train.offsets[u0 + 1] - d.train.offsets[u0], 9);
    // Timestamps decrease with t, so the newest event is t = 0: held out for validation.
    assert.ok(d.validTargets[u0] >= 0);
    assert.deepEqual(d.side.tags?.[d.itemIds.indexOf('i5')], ['g1']);
  } finally {
    await store.close();
  }
});

test('loadTrainingData collapses consecutive events on one item into one step', async () => {
  const store = await openStore(':memory:');
  try {
    const seq = [['a', 'play'], ['a', 'complete'], ['b', 'play'], ['b', 'skip'], ['b', 'like'], ['a', 'play'], ['c', 'like']] as const;
    await store.appendEvents(seq.map(([item, type], t) => ({ id: `r${t}`, userId: 'r', itemId: item, type, timestamp: 1_000 + t })));
    const d = await loadTrainingData(store);
    const u = d.userIds.indexOf('r');
    const train = Array.from(d.train.items.subarray(d.train.offsets[u], d.train.offsets[u + 1]), (i) => d.itemIds[i]);
    assert.deepEqual(train, ['a', 'b', 'a']);
    assert.equal(d.itemIds[d.validTargets[u]], 'c');
    assert.equal(d.events, 6);
  } finally {
    await store.close();
  }
});

test('train registers a version, activates it, and a failed run keeps the active model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'train-'));
  const store = await seededStore();
  try {
    const reg = new ModelRegistry(dir);
    const s1 = await trainFromStore(store, reg, { model: 'twotower', seed: 1, params: PARAMS });
    assert.equal(s1.version, 'v1');
    assert.equal(s1.activated, true);
    assert.equal(reg.active('twotower')?.version, 'v1');
    const a = reg.load('twotower');
    assert.deepEqual(JSON.parse(a.files!['items.json']).length, 40);
    assert.equal(a.weights.itemVectors.length, 40 * 8);
    const rebuilt = TwoTowerRecommender.fromArtifacts(a.config, a.weights);
    assert.equal(rebuilt.itemEmbeddings().length, 40 * 8);

    const failing = (): TwoTowerRecommender => {
      const m = new TwoTowerRecommender();
      m.fit = async () => {
        throw new Error('diverged');
      };
      return m;
    };
    await assert.rejects(trainFromStore(store, reg, { model: 'twotower', seed: 2, params: PARAMS }, failing), /diverged/);
    assert.deepEqual(reg.versions('twotower'), ['v1']);
    assert.equal(reg.active('twotower')?.version, 'v1');

    // A worse run is registered but not activated.
    const worse = (): TwoTowerRecommender => {
      const m = new TwoTowerRecommender();
      const fit = m.fit.bind(m);
      m.fit = async (ctx) => ({ ...(await fit(ctx)), valid: { 'NDCG@10': -1 } });
      return m;
    };
    const s3 = await trainFromStore(store, reg, { model: 'twotower', seed: 3, params: PARAMS }, worse);
    assert.equal(s3.version, 'v2');
    assert.equal(s3.activated, false);
    assert.match(s3.reason ?? '', /worse/);
    assert.equal(reg.active('twotower')?.version, 'v1');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
