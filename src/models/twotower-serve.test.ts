// The served user tower against the training code's batch user tower (its reference twin), and the score
// moments against a full scan of the catalogue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists } from '../core/dataset.js';
import { generateSynthetic, syntheticToDataset } from '../core/synth.js';
import { TwoTowerRecommender } from './twotower-train.js';
import { TwoTowerUserEncoder } from './twotower-serve.js';

async function trained(params: Record<string, unknown> = {}): Promise<{ rec: TwoTowerRecommender; lists: number[][]; numItems: number }> {
  const data = syntheticToDataset(generateSynthetic({ seed: 11, users: 60, items: 50, creators: 8, days: 10, eventsPerUser: 25, startMs: 0 }));
  const lists: number[][] = [];
  const valid = new Int32Array(data.seqs.numUsers).fill(-1);
  for (let u = 0; u < data.seqs.numUsers; u++) {
    const l = Array.from(data.seqs.items.subarray(data.seqs.offsets[u], data.seqs.offsets[u + 1]));
    if (l.length >= 3) valid[u] = l.pop()!;
    lists.push(l);
  }
  const rec = new TwoTowerRecommender({ dim: 16, hidden: 24, historyLen: 12, lastItems: 2, batchSize: 32, sampledNegatives: 16, maxEpochs: 2, ...params });
  await rec.fit({ train: sequencesFromLists(lists, data.itemIds.length), validTargets: valid, seed: 2, threads: 1 });
  return { rec, lists, numItems: data.itemIds.length };
}

test('two-tower served user tower equals the batch user tower, and its score moments equal a full scan', async () => {
  const { rec, lists, numItems } = await trained();
  try {
    const { config, weights } = rec.toArtifacts();
    const vectors = rec.itemEmbeddings();
    const enc = new TwoTowerUserEncoder(JSON.parse(JSON.stringify(config)) as Record<string, unknown>, weights, vectors);
    const D = enc.dim;
    const users = lists.map((_, u) => u).filter((u) => lists[u].length > 0).slice(0, 20);
    const ref = rec.userVectors(sequencesFromLists(users.map((u) => lists[u]), numItems), Int32Array.from(users, (_, k) => k));
    const u = new Float32Array(D);
    for (let k = 0; k < users.length; k++) {
      const hist = lists[users[k]];
      assert.ok(enc.encode(hist, hist.length, u));
      for (let d = 0; d < D; d++) assert.ok(Math.abs(u[d] - ref[k * D + d]) < 1e-5, `user ${users[k]} dim ${d}: ${u[d]} vs ${ref[k * D + d]}`);
      let s1 = 0, s2 = 0;
      for (let i = 0; i < numItems; i++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += u[d] * vectors[i * D + d];
        s1 += s;
        s2 += s * s;
      }
      const mean = s1 / numItems;
      const std = Math.sqrt(s2 / numItems - mean * mean);
      const m = enc.scoreMoments(u);
      assert.ok(Math.abs(m.mean - mean) < 1e-5 && Math.abs(m.std - std) < 1e-4, `moments ${JSON.stringify(m)} vs ${mean}, ${std}`);
    }
    assert.equal(enc.encode([], 0, u), false, 'an empty history has no user vector');
    assert.throws(() => new TwoTowerUserEncoder({ ...config, userIdEmbedding: true }, weights, vectors), /userIdEmbedding|per-user/);
    assert.throws(() => new TwoTowerUserEncoder(config, { ...weights, A1: new Float32Array(3) }, vectors), /A1/);
  } finally {
    await rec.dispose();
  }
});
