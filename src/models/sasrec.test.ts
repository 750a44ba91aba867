// SASRec through its public surface: whole-model gradients against finite differences, a tiny fit on
// synthetic sequences with a learnable rule, seeded determinism, and checkpoint resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../core/rng.js';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { Kernels } from './kernels/index.js';
import { Batch, SasrecConfig, SasrecModel } from './sasrec.js';
import { SasrecRecommender } from './sasrec-train.js';

for (const loss of ['softmax', 'sampled-softmax'] as const) test(`whole-model gradients match finite differences (${loss}, dropout off)`, () => {
  const kernels = new Kernels({ initialBytes: 8 << 20 });
  const cfg = SasrecConfig.parse({ maxLen: 6, dim: 8, heads: 2, blocks: 2, dropout: 0, activation: 'gelu', loss, negatives: 6 });
  const model = new SasrecModel(cfg, 11, { kernels, maxBatch: 3, seed: 3 });
  const batch = new Batch(kernels, 3, cfg.maxLen);
  for (const s of [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 0], [4, 4, 2, 7, 1]]) batch.push(Int32Array.from(s), 0, s.length - 1, true);
  const lossAt = (): number => {
    model.forward(batch, false, 0);
    return model.lossAndBackward(batch, false, 0);
  };
  model.zeroGrad();
  model.forward(batch, true, 0);
  model.lossAndBackward(batch, true, 0);
  const h = 1e-2;
  let checked = 0;
  for (const ref of model.paramRefs) {
    for (const i of [0, Math.floor(ref.param.length / 2), ref.param.length - 1]) {
      const old = ref.param[i];
      ref.param[i] = old + h;
      const lp = lossAt();
      ref.param[i] = old - h;
      const lm = lossAt();
      ref.param[i] = old;
      const fd = (lp - lm) / (2 * h);
      const g = ref.grad[i];
      assert.ok(Math.abs(fd - g) < 3e-3 + 3e-2 * Math.abs(fd), `${ref.name}[${i}]: analytic ${g} vs fd ${fd}`);
      checked++;
    }
  }
  assert.ok(checked >= 3 * 16);
});

/** Users follow item i → i + step (mod numItems), step ∈ {1, 3} per user: the next item is predictable. */
function synthetic(numUsers: number, numItems: number, len: number, seed: number): { train: Sequences; valid: Int32Array; test: Int32Array; full: Sequences } {
  const rng = new Rng(seed);
  const trainLists: number[][] = [];
  const fullLists: number[][] = [];
  const valid = new Int32Array(numUsers);
  const testItems = new Int32Array(numUsers);
  for (let u = 0; u < numUsers; u++) {
    const step = rng.next() < 0.5 ? 1 : 3;
    let x = rng.int(numItems);
    const n = len - rng.int(len / 2);
    const s: number[] = [];
    for (let t = 0; t < n; t++) {
      s.push(x);
      x = (x + step) % numItems;
    }
    trainLists.push(s.slice(0, n - 2));
    fullLists.push(s.slice(0, n - 1));
    valid[u] = s[n - 2];
    testItems[u] = s[n - 1];
  }
  return { train: sequencesFromLists(trainLists, numItems), valid, test: testItems, full: sequencesFromLists(fullLists, numItems) };
}

const tinyParams = { maxLen: 12, dim: 16, blocks: 1, heads: 1, dropout: 0.1, batchSize: 32, lr: 5e-3, warmupSteps: 5, maxEpochs: 12, patience: 20, threads: 1 };

function hitRate(rec: SasrecRecommender, data: ReturnType<typeof synthetic>): number {
  const n = data.full.numUsers;
  const N = data.full.numItems;
  const out = new Float32Array(n * N);
  rec.scoreBatch(data.full, Int32Array.from({ length: n }, (_, i) => i), out);
  let hits = 0;
  for (let u = 0; u < n; u++) {
    const row = out.subarray(u * N, (u + 1) * N);
    const ts = row[data.test[u]];
    let rank = 0;
    for (let j = 0; j < N; j++) if (row[j] > ts) rank++;
    if (rank < 10) hits++;
  }
  return hits / n;
}

test('a tiny SASRec learns a deterministic sequence rule (HR@10 on held-out next items)', async () => {
  const data = synthetic(256, 40, 24, 5);
  const rec = new SasrecRecommender();
  try {
    const report = await rec.fit({ train: data.train, validTargets: data.valid, seed: 11, params: tinyParams });
    assert.ok((report.valid?.['NDCG@10'] ?? 0) > 0.8, `valid NDCG@10 ${report.valid?.['NDCG@10']}`);
    const hr = hitRate(rec, data);
    assert.ok(hr > 0.9, `test HR@10 ${hr}`);
    assert.ok(rec.history.length >= 2 && rec.history[0].loss > rec.history[rec.history.length - 1].loss, 'loss decreases');
  } finally {
    await rec.dispose();
  }
});

test('same seed gives identical scores; checkpoint resume continues the run', async () => {
  const data = synthetic(96, 30, 16, 9);
  const params = { ...tinyParams, maxEpochs: 3 };
  const scoresOf = async (rec: SasrecRecommender): Promise<Float32Array> => {
    const out = new Float32Array(4 * 30);
    rec.scoreBatch(data.full, Int32Array.of(0, 1, 2, 3), out);
    return out;
  };
  const a = new SasrecRecommender();
  const b = new SasrecRecommender();
  const dir = mkdtempSync(join(tmpdir(), 'sasrec-ckpt-'));
  try {
    await a.fit({ train: data.train, validTargets: data.valid, seed: 4, params });
    await b.fit({ train: data.train, validTargets: data.valid, seed: 4, params });
    assert.deepEqual(await scoresOf(a), await scoresOf(b));

    // A run that crashes after its second epoch's validation (checkpoint of epoch 1 on disk), resumed:
    // it must end exactly where the uninterrupted run `a` ended.
    await assert.rejects(
      b.fit({
        train: data.train, validTargets: data.valid, seed: 4, params, checkpointDir: dir,
        onProgress: (p) => {
          if (p.epoch === 2) throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.ok(existsSync(join(dir, 'sasrec.ckpt')));
    const resumed = await b.fit({ train: data.train, validTargets: data.valid, seed: 4, params, checkpointDir: dir });
    assert.equal(resumed.epochs, 3);
    assert.equal(b.history.length, 3);
    assert.deepEqual(await scoresOf(b), await scoresOf(a));
  } finally {
    await a.dispose();
    await b.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
