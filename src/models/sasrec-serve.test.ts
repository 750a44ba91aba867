// SASRec serving through its public surface: artifacts round-trip to identical scores, and the
// single-sequence top-k agrees with a naive sort of the batch scorer (inputs excluded, unknown ixs skipped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists } from '../core/dataset.js';
import { generateSynthetic, syntheticToDataset } from '../core/synth.js';
import { Kernels } from './kernels/index.js';
import { Batch, SasrecConfig, SasrecModel } from './sasrec.js';
import { SasrecRecommender } from './sasrec-train.js';
import { SasrecPredictor } from './sasrec-serve.js';

const PARAMS = { maxLen: 16, dim: 16, blocks: 1, heads: 1, dropout: 0.1, batchSize: 32, maxEpochs: 2, validUsers: 40, warmupSteps: 2, threads: 1 };

async function trained(): Promise<{ rec: SasrecRecommender; numItems: number; seqs: number[][] }> {
  const data = syntheticToDataset(generateSynthetic({ seed: 5, users: 80, items: 60, creators: 10, days: 10, eventsPerUser: 20, startMs: 0 }));
  const lists: number[][] = [];
  const valid = new Int32Array(data.seqs.numUsers).fill(-1);
  for (let u = 0; u < data.seqs.numUsers; u++) {
    const l = Array.from(data.seqs.items.subarray(data.seqs.offsets[u], data.seqs.offsets[u + 1]));
    if (l.length >= 3) valid[u] = l.pop()!;
    lists.push(l);
  }
  const rec = new SasrecRecommender();
  await rec.fit({ train: sequencesFromLists(lists, data.itemIds.length), validTargets: valid, seed: 3, params: PARAMS });
  return { rec, numItems: data.itemIds.length, seqs: lists.filter((l) => l.length > 0) };
}

test('sasrec artifacts round-trip: the rebuilt model scores exactly like the trained one', async () => {
  const { rec, numItems, seqs } = await trained();
  const art = rec.toArtifacts();
  // Through JSON, as the registry stores the config.
  const config = JSON.parse(JSON.stringify(art.config)) as Record<string, unknown>;
  const loaded = SasrecRecommender.fromArtifacts(config, { params: art.weights.params.slice() });
  try {
    const hist = sequencesFromLists(seqs.slice(0, 10), numItems);
    const users = Int32Array.from({ length: 10 }, (_, i) => i);
    const a = new Float32Array(10 * numItems);
    const b = new Float32Array(10 * numItems);
    rec.scoreBatch(hist, users, a);
    loaded.scoreBatch(hist, users, b);
    assert.ok(a.some((x) => x !== 0));
    assert.deepEqual(b, a);
    assert.throws(() => SasrecRecommender.fromArtifacts(config, { params: art.weights.params.subarray(1) }), /do not match its config/);
    assert.throws(() => SasrecRecommender.fromArtifacts({ ...config, numItems: 1 }, art.weights), /numItems/);
  } finally {
    await rec.dispose();
    await loaded.dispose();
  }
});

test('predictor top-k equals a naive sort of the batch scores, excluding inputs and skipping unknown ixs', async () => {
  const { rec, numItems, seqs } = await trained();
  const art = rec.toArtifacts();
  const predictor = SasrecPredictor.fromArtifacts(art.config, art.weights);
  const k = 10;
  const outItems = new Int32Array(k);
  const outScores = new Float32Array(k);
  const all = new Float32Array(numItems);
  try {
    for (const seq of seqs.slice(0, 8)) {
      rec.scoreBatch(sequencesFromLists([seq], numItems), Int32Array.of(0), all);
      // Unknown ids (out of the model's range) in the input are ignored.
      const withUnknown = [numItems + 5, ...seq, -1];
      const c = predictor.topK(withUnknown, withUnknown.length, k, outItems, outScores);
      const inputs = new Set(seq.slice(-PARAMS.maxLen));
      const expected = Array.from({ length: numItems }, (_, i) => i)
        .filter((i) => !inputs.has(i))
        .sort((x, y) => all[y] - all[x] || x - y)
        .slice(0, k);
      assert.equal(c, k);
      assert.deepEqual(Array.from(outItems), expected);
      for (let j = 0; j < k; j++) assert.ok(Math.abs(outScores[j] - all[expected[j]]) < 1e-4, `score ${j}`);
      // logSumExp makes the scores probabilities: the top ones sum to at most 1.
      const mass = Array.from(outScores).reduce((s, x) => s + Math.exp(x - predictor.logSumExp), 0);
      assert.ok(mass > 0 && mass <= 1 + 1e-6, `probability mass ${mass}`);
    }
    // allow() filters; nothing known → no candidates.
    const c = predictor.topK(seqs[0], seqs[0].length, k, outItems, outScores, (i) => i % 2 === 0);
    assert.ok(c > 0 && Array.from(outItems.subarray(0, c)).every((i) => i % 2 === 0));
    assert.equal(predictor.topK([numItems, numItems + 1], 2, k, outItems, outScores), 0);
    assert.ok(Number.isNaN(predictor.logSumExp));
  } finally {
    await rec.dispose();
    await predictor.dispose();
  }
});

test('scoreSequence (last block on the last row only) matches the full forward pass', () => {
  for (const [activation, heads, blocks] of [['gelu', 2, 2], ['relu', 1, 3]] as const) {
    const kernels = new Kernels({ initialBytes: 8 << 20 });
    const cfg = SasrecConfig.parse({ maxLen: 12, dim: 8, heads, blocks, activation, dropout: 0.3 });
    const model = new SasrecModel(cfg, 30, { kernels, maxBatch: 1, seed: 9 });
    model.syncScoring();
    const full = new Float32Array(30);
    const batch = new Batch(kernels, 1, cfg.maxLen);
    for (const seq of [[4], [1, 2, 3], Array.from({ length: 20 }, (_, i) => (i * 7) % 30)]) {
      const items = Int32Array.from(seq);
      const fast = model.scoreSequence(items, 0, items.length).slice();
      batch.clear();
      batch.push(items, 0, items.length, false);
      model.scoreLast(batch, full);
      for (let i = 0; i < 30; i++) assert.ok(Math.abs(fast[i] - full[i]) < 1e-4 * (1 + Math.abs(full[i])), `${activation}/${blocks}: item ${i} ${fast[i]} vs ${full[i]}`);
    }
  }
});
