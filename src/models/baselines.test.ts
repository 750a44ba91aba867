import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { evaluateSplit } from '../eval/evaluate.js';
import { splitLeaveOneOut, type EvalSplit } from '../eval/protocols.js';
import { createModel, loadModel, modelNames, registerModel } from './index.js';
import { choleskyInPlace, spdInverseInPlace, spdInverseNaive } from './linalg.js';
import type { FitReport, Recommender } from './types.js';

/**
 * Structured synthetic data: 4 taste clusters of 30 items; each user draws 10 distinct items from their
 * cluster with Zipf-like popularity inside it (so popularity alone carries some signal too).
 */
function clustered(seed: number): EvalSplit {
  const rng = new Rng(seed);
  const numItems = 120;
  const lists: number[][] = [];
  for (let u = 0; u < 240; u++) {
    const c = u % 4;
    const seen = new Set<number>();
    while (seen.size < 10) {
      const r = Math.floor(30 * Math.pow(rng.next(), 2)); // skewed toward low offsets
      seen.add(c * 30 + r);
    }
    lists.push(rng.shuffle([...seen]));
  }
  return splitLeaveOneOut(sequencesFromLists(lists, numItems));
}

class RandomModel implements Recommender {
  readonly name = 'random';
  private readonly rng = new Rng(99);
  async fit(): Promise<FitReport> {
    return { params: {}, trainSeconds: 0 };
  }
  scoreBatch(_h: Sequences, _u: Int32Array, out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.rng.next();
  }
}

async function hr10(model: Recommender, s: EvalSplit): Promise<number> {
  await model.fit({ train: s.train, validTargets: s.validTargets, seed: 5 });
  return Number((await evaluateSplit(model, s, { ks: [10] }))['HR@10']);
}

test('every baseline beats random on structured data; personalised ones beat popular', async () => {
  const s = clustered(1);
  const random = await hr10(new RandomModel(), s);
  const popular = await hr10(createModel('popular'), s);
  assert.ok(popular > random + 0.05, `popular ${popular} vs random ${random}`);
  for (const name of ['itemknn', 'ease', 'bpr']) {
    const params = name === 'bpr' ? { maxEpochs: 30, evalEvery: 3 } : {};
    const hr = await hr10(createModel(name, params), s);
    assert.ok(hr > popular, `${name} ${hr} vs popular ${popular}`);
    assert.ok(hr > 2 * random, `${name} ${hr} vs random ${random}`);
  }
});

test('hyper-parameters are chosen on validation and reported; fixed params skip the search', async () => {
  const s = clustered(2);
  const ease = createModel('ease');
  const rep = await ease.fit({ train: s.train, validTargets: s.validTargets, seed: 1 });
  assert.ok([50, 100, 200, 500, 1000, 2000].includes(rep.params.lambda as number));
  assert.ok((rep.params.searched as number[]).length >= 2);
  const fixed = await createModel('ease', { lambda: 300 }).fit({ train: s.train, validTargets: s.validTargets, seed: 1 });
  assert.deepEqual(fixed.params, { lambda: 300 });
  const knn = await createModel('itemknn', { k: [5, 20], shrink: [0, 10] }).fit({ train: s.train, validTargets: s.validTargets, seed: 1 });
  assert.ok([5, 20].includes(knn.params.k as number) && [0, 10].includes(knn.params.shrink as number));
  const bpr = await createModel('bpr', { maxEpochs: 4, evalEvery: 2 }).fit({ train: s.train, validTargets: s.validTargets, seed: 1 });
  assert.ok([2, 4].includes(bpr.params.epochs as number));
});

test('training is deterministic for a seed', async () => {
  const s = clustered(3);
  for (const name of ['itemknn', 'ease', 'bpr']) {
    const params = name === 'bpr' ? { maxEpochs: 4 } : {};
    const a = await evaluateSplit(await fitted(name, params, s), s);
    const b = await evaluateSplit(await fitted(name, params, s), s);
    assert.deepEqual(a, b, name);
  }
});

async function fitted(name: string, params: Record<string, unknown>, s: EvalSplit): Promise<Recommender> {
  const m = createModel(name, params);
  await m.fit({ train: s.train, validTargets: s.validTargets, seed: 11 });
  return m;
}

test('registry: unknown models and bad params are ValidationErrors naming the field; others can register', () => {
  assert.throws(() => createModel('nope'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'model');
  assert.throws(() => createModel('ease', { lambda: -1 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'params.lambda');
  assert.throws(() => createModel('bpr', { bogus: 1 }), ValidationError);
  registerModel('test-popular', { create: (p) => createModel('popular', p), fromArtifacts: (s) => loadModel('popular', s) });
  assert.ok(modelNames().includes('test-popular'));
  assert.equal(createModel('test-popular').name, 'popular');
});

function randomSpd(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const x = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[k * n + i] * x[k * n + j];
      a[i * n + j] = s + (i === j ? 1 : 0);
    }
  }
  return a;
}

test('blocked SPD inverse matches the Gauss-Jordan reference; Cholesky reconstructs A', () => {
  for (const n of [1, 3, 7, 33, 70, 133]) {
    const a = randomSpd(n, n);
    const ref = spdInverseNaive(a, n);
    const fast = Float64Array.from(a);
    spdInverseInPlace(fast, n);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < n * n; i++) {
      err = Math.max(err, Math.abs(fast[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    assert.ok(err <= 1e-9 * Math.max(1, scale), `n=${n} err=${err}`);
    const l = Float64Array.from(a);
    choleskyInPlace(l, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k <= j; k++) s += l[i * n + k] * l[j * n + k];
        assert.ok(Math.abs(s - a[i * n + j]) < 1e-8 * Math.max(1, Math.abs(a[i * n + j])));
      }
    }
  }
  assert.throws(() => spdInverseInPlace(Float64Array.from([1, 2, 2, 1]), 2), ValidationError);
});

test('the threaded inverse gives bit-identical results to the single-threaded one', async () => {
  const { LinalgPool } = await import('./linalg-pool.js');
  const n = 600; // above the parallel threshold
  const rng = new Rng(8);
  const a = LinalgPool.sharedMatrix(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = rng.next();
    a[i * n + i] = n;
  }
  const serial = Float64Array.from(a);
  spdInverseInPlace(serial, n);
  const pool = await LinalgPool.create(3);
  try {
    assert.equal(pool.threads, 3);
    await pool.spdInverse(a, n);
  } finally {
    await pool.dispose();
  }
  let same = true;
  for (let i = 0; i < n * n && same; i++) same = a[i] === serial[i];
  assert.ok(same);
});
