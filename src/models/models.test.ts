/**
 * One test for every model in the table (RecBole's test_model_auto): fit on a tiny synthetic world, save
 * through the real registry (disk), load back with the table's loader, and score the same users with
 * both. A model added with `registerModel` is covered without editing this file; its defaults just have
 * to be quick on 60 users, or it gets a small entry in TINY.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic, syntheticToDataset } from '../core/synth.js';
import { splitLeaveOneOut } from '../eval/protocols.js';
import { ModelRegistry } from '../registry/index.js';
import { createModel, loadModel, modelNames } from './index.js';

/** Small settings so each fit takes well under a second; models not listed run their defaults. */
const TINY: Record<string, Record<string, unknown>> = {
  twotower: { dim: 8, hidden: 16, historyLen: 8, batchSize: 32, sampledNegatives: 16, maxEpochs: 2, warmupSteps: 2, hashBuckets: 256 },
  sasrec: { maxLen: 12, dim: 16, blocks: 1, heads: 1, batchSize: 32, maxEpochs: 2, validUsers: 40, warmupSteps: 2, threads: 1 },
  bpr: { dim: 8, maxEpochs: 4, evalEvery: 2 },
  itemknn: { k: [5, 10], shrink: [0, 10] },
  ease: { lambda: 50 },
  blend: {
    members: ['itemknn', 'twotower'],
    memberParams: { itemknn: { k: 10, shrink: 0 }, twotower: { dim: 8, hidden: 16, historyLen: 8, batchSize: 32, sampledNegatives: 16, maxEpochs: 2, warmupSteps: 2, hashBuckets: 256 } },
  },
};

test('every registered model fits, saves, loads and scores identically after reload', async () => {
  const world = generateSynthetic({ seed: 5, users: 60, items: 80, creators: 10, days: 10, eventsPerUser: 15, startMs: 0 });
  const ds = syntheticToDataset(world);
  const split = splitLeaveOneOut(ds.seqs);
  const dir = mkdtempSync(join(tmpdir(), 'models-roundtrip-'));
  const registry = new ModelRegistry(dir);
  const users = Int32Array.from({ length: 8 }, (_, k) => k * 7);
  const N = ds.seqs.numItems;
  try {
    const names = modelNames();
    assert.ok(names.includes('twotower') && names.includes('sasrec'));
    for (const name of names) {
      const model = createModel(name, TINY[name]);
      const loaded: { dispose(): unknown }[] = [];
      try {
        await model.fit({ train: split.train, validTargets: split.validTargets, side: { tags: ds.itemTags }, seed: 3, threads: 1, maxMinutes: 0.5 });
        const before = new Float32Array(users.length * N);
        await model.scoreBatch(split.train, users, before);
        const saved = model.toArtifacts();
        const version = registry.register(name, { config: saved.config, metrics: {}, weights: saved.weights });
        const back = registry.load(name, version);
        const reloaded = loadModel(name, { config: back.config, weights: back.weights });
        loaded.push(reloaded);
        const after = new Float32Array(users.length * N);
        await reloaded.scoreBatch(split.train, users, after);
        for (let i = 0; i < before.length; i++) {
          assert.ok(Number.isFinite(before[i]), `${name}: score ${i} is ${before[i]}`);
          assert.equal(after[i], before[i], `${name}: score ${i} changed after reload`);
        }
      } finally {
        await model.dispose();
        for (const m of loaded) await m.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
