import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.js';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import {
  PARAM_NAMES,
  TwoTowerConfigSchema,
  TwoTowerNet,
  hashItemFeatures,
  matmulNN,
  matmulNT,
  matmulTN,
  type TwoTowerBatch,
} from './twotower.js';
import { TwoTowerRecommender } from './twotower-train.js';
import { WasmMatmuls } from './twotower-kernels.js';

function rand(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

test('blocked matmuls match the naive triple loop on odd shapes', () => {
  const rng = new Rng(3);
  for (const [m, n, k] of [[3, 5, 7], [8, 9, 4], [1, 13, 6]]) {
    const A = rand(rng, m * k), Bnt = rand(rng, n * k), Bnn = rand(rng, k * n), At = rand(rng, k * m);
    const nt = new Float32Array(m * n), nn = new Float32Array(m * n), tn = new Float32Array(m * n);
    matmulNT(A, Bnt, nt, m, n, k);
    matmulNN(A, Bnn, nn, m, n, k);
    matmulTN(At, Bnn, tn, m, n, k);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        s1 += A[i * k + p] * Bnt[j * k + p];
        s2 += A[i * k + p] * Bnn[p * n + j];
        s3 += At[p * m + i] * Bnn[p * n + j];
      }
      assert.ok(Math.abs(nt[i * n + j] - s1) < 1e-4 && Math.abs(nn[i * n + j] - s2) < 1e-4 && Math.abs(tn[i * n + j] - s3) < 1e-4);
    }
  }
});

test('WASM matmuls match the TS reference (fast vs naive)', async () => {
  const wasm = WasmMatmuls.tryCreate();
  assert.ok(wasm, 'kernel module should load');
  const rng = new Rng(9);
  try {
    for (const [m, n, k] of [[3, 5, 7], [17, 33, 64], [64, 9, 130]]) {
      const A = rand(rng, m * k), Bnt = rand(rng, n * k), Bnn = rand(rng, k * n), At = rand(rng, k * m), C0 = rand(rng, m * n);
      for (const acc of [false, true]) {
        const ref = C0.slice(), fast = C0.slice();
        matmulNT(A, Bnt, ref, m, n, k, acc);
        wasm.nt(A, Bnt, fast, m, n, k, acc);
        for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(ref[i] - fast[i]) < 1e-3, `nt ${m}x${n}x${k}`);
        const ref2 = C0.slice(), fast2 = C0.slice();
        matmulNN(A, Bnn, ref2, m, n, k, acc);
        wasm.nn(A, Bnn, fast2, m, n, k, acc);
        for (let i = 0; i < ref2.length; i++) assert.ok(Math.abs(ref2[i] - fast2[i]) < 1e-3, `nn ${m}x${n}x${k}`);
      }
      const ref3 = C0.slice(), fast3 = C0.slice();
      matmulTN(At, Bnn, ref3, m, n, k);
      wasm.tn(At, Bnn, fast3, m, n, k);
      for (let i = 0; i < ref3.length; i++) assert.ok(Math.abs(ref3[i] - fast3[i]) < 1e-3, `tn ${m}x${n}x${k}`);
    }
  } finally {
    await wasm.dispose();
  }
});

for (const variant of [{ userIdEmbedding: true, lastItems: 2 }, { tieEmbeddings: true, lastItems: 1 }]) test(`tower gradients match finite differences on tiny shapes ${JSON.stringify(variant)}`, () => {
  const cfg = TwoTowerConfigSchema.parse({ dim: 4, hidden: 6, historyLen: 3, hashBuckets: 11, temperature: 0.5, initStd: 0.5, ...variant });
  const numItems = 9, numUsers = 4;
  const feats = hashItemFeatures(numItems, cfg.hashBuckets, {
    tags: Array.from({ length: numItems }, (_, i) => (i % 3 === 0 ? ['rock', `t${i}`] : [])),
    titles: Array.from({ length: numItems }, (_, i) => (i % 2 ? `song number ${i}` : '')),
    creators: Array.from({ length: numItems }, (_, i) => (i < 5 ? `artist${i % 2}` : undefined)),
  });
  const rng = new Rng(7);
  const net = new TwoTowerNet(cfg, numItems, numUsers, feats, rng);
  // Nonzero biases so every path carries gradient.
  for (const k of ['b1', 'b2', 'c1', 'c2'] as const) net.params[k].set(rand(rng, net.params[k].length).map((x) => 0.3 * x));
  const L = cfg.historyLen;
  const batch: TwoTowerBatch = {
    size: 3,
    userIxs: Int32Array.of(0, 2, 3),
    hist: Int32Array.of(1, 2, 3, 4, 0, 0, 5, 6, 7),
    histLen: Int32Array.of(3, 1, 2),
    cands: Int32Array.of(8, 0, 3, 5, 0), // last column repeats row 1's positive: an accidental hit, masked
    logQ: Float32Array.of(-1, -2, -0.5, -1.5, -2),
  };
  assert.equal(batch.hist.length, 3 * L);
  const loss0 = net.lossAndGrad(batch);
  assert.ok(Number.isFinite(loss0));
  const grads = Object.fromEntries(PARAM_NAMES.map((k) => [k, net.grads[k].slice()]));
  const eps = 1e-3;
  const check = new Rng(11);
  let checked = 0;
  for (const k of PARAM_NAMES) {
    const p = net.params[k];
    if (p.length === 0) continue; // disabled by the variant (U without user ids, P when tied)
    for (let t = 0; t < 6; t++) {
      const i = check.int(p.length);
      const old = p[i];
      p[i] = old + eps;
      const lp = net.lossAndGrad(batch);
      p[i] = old - eps;
      const lm = net.lossAndGrad(batch);
      p[i] = old;
      const fd = (lp - lm) / (2 * eps);
      const an = grads[k][i];
      assert.ok(Math.abs(fd - an) <= 2e-3 + 0.05 * Math.abs(fd), `${k}[${i}]: analytic ${an} vs finite difference ${fd}`);
      checked++;
    }
  }
  assert.equal(checked, PARAM_NAMES.filter((k) => net.params[k].length > 0).length * 6);
});

/** Users each like one of 5 genres of 20 items; within a genre a few items are popular. */
function synthetic(seed: number): { seqs: Sequences; numItems: number } {
  const rng = new Rng(seed);
  const numItems = 100, lists: number[][] = [];
  for (let u = 0; u < 300; u++) {
    const g = u % 5;
    const seq: number[] = [];
    for (let t = 0; t < 20; t++) {
      if (rng.next() < 0.1) seq.push(rng.int(10)); // globally popular noise: items 0..9
      else seq.push(g * 20 + Math.min(19, Math.floor(-Math.log(1 - rng.next()) * 6)));
    }
    lists.push(seq);
  }
  return { seqs: sequencesFromLists(lists, numItems), numItems };
}

test('a tiny fit beats popularity on held-out next items', async () => {
  const { seqs, numItems } = synthetic(5);
  const trainLists: number[][] = [], histLists: number[][] = [];
  const valid = new Int32Array(seqs.numUsers), target = new Int32Array(seqs.numUsers);
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = Array.from(seqs.items.subarray(seqs.offsets[u], seqs.offsets[u + 1]));
    target[u] = a[a.length - 1];
    valid[u] = a[a.length - 2];
    trainLists.push(a.slice(0, -2));
    histLists.push(a.slice(0, -1));
  }
  const train = sequencesFromLists(trainLists, numItems), hist = sequencesFromLists(histLists, numItems);
  const rec = new TwoTowerRecommender();
  const progress: number[] = [];
  const report = await rec.fit({
    train,
    validTargets: valid,
    seed: 1,
    params: { dim: 16, hidden: 32, historyLen: 10, batchSize: 64, sampledNegatives: 32, maxEpochs: 12, patience: 3, temperature: 0.1, lr: 5e-3, warmupSteps: 10 },
    onProgress: (p) => p.valid && progress.push(p.valid['NDCG@10']),
  });
  assert.ok(progress.length >= 1 && report.valid!['NDCG@10'] === Math.max(...progress));

  const counts = new Float32Array(numItems);
  for (const i of train.items) counts[i]++;
  const hitRate = (score: (u: number, row: Float32Array) => void): number => {
    let hits = 0;
    const row = new Float32Array(numItems);
    for (let u = 0; u < seqs.numUsers; u++) {
      score(u, row);
      for (let p = hist.offsets[u]; p < hist.offsets[u + 1]; p++) if (hist.items[p] !== target[u]) row[hist.items[p]] = -Infinity;
      let rank = 0;
      for (let i = 0; i < numItems; i++) if (row[i] > row[target[u]]) rank++;
      if (rank < 10) hits++;
    }
    return hits / seqs.numUsers;
  };
  const pop = hitRate((_u, row) => row.set(counts));
  const tt = hitRate((u, row) => rec.scoreBatch(hist, Int32Array.of(u), row));
  console.log(`tiny fit: two-tower HR@10 ${tt.toFixed(3)} vs popularity ${pop.toFixed(3)}`);
  assert.ok(tt > pop + 0.15, `two-tower HR@10 ${tt} vs popularity ${pop}`);

  // Artifacts round trip gives identical scores, and item embeddings are unit vectors.
  const { config, weights } = rec.toArtifacts();
  const again = TwoTowerRecommender.fromArtifacts(JSON.parse(JSON.stringify(config)), weights);
  const a = new Float32Array(numItems), b = new Float32Array(numItems);
  rec.scoreBatch(hist, Int32Array.of(7), a);
  again.scoreBatch(hist, Int32Array.of(7), b);
  assert.deepEqual(a, b);
  const emb = again.itemEmbeddings();
  let norm = 0;
  for (let j = 0; j < 16; j++) norm += emb[j] * emb[j];
  assert.ok(Math.abs(norm - 1) < 1e-4);
  await rec.dispose();
  await again.dispose();
});

test('invalid params name the field', async () => {
  assert.throws(() => new TwoTowerRecommender({ temperature: -1 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'params.temperature');
  const { seqs } = synthetic(1);
  await assert.rejects(
    new TwoTowerRecommender().fit({ train: seqs, validTargets: new Int32Array(seqs.numUsers).fill(-1), seed: 1, params: { dim: 0 } }),
    (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'params.dim',
  );
});
