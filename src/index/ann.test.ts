import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../core/rng.js';
import { ValidationError } from '../core/errors.js';
import { AnnIndex, exactSearch, recallAtK } from './ann.js';

function data(n: number, d: number, seed: number): { ixs: Int32Array; vecs: Float32Array } {
  const rng = new Rng(seed);
  const vecs = new Float32Array(n * d);
  for (let i = 0; i < vecs.length; i++) vecs[i] = rng.normal();
  const ixs = new Int32Array(n);
  for (let i = 0; i < n; i++) ixs[i] = i * 3 + 7; // sparse, non-contiguous item indexes
  return { ixs, vecs };
}

for (const metric of ['ip', 'cos'] as const) {
  test(`ANN recall@10 against exact search is high (${metric})`, () => {
    const d = 16;
    const { ixs, vecs } = data(3000, d, 1);
    const queries = data(100, d, 2).vecs;
    const index = new AnnIndex({ dims: d, metric, expansionSearch: 128 });
    index.add(ixs, vecs);
    assert.equal(index.size, 3000);
    const approx = index.search(queries, 10);
    const exact = exactSearch(ixs, vecs, queries, d, 10, metric);
    assert.ok(recallAtK(approx, exact, 10) >= 0.95, `recall ${recallAtK(approx, exact, 10)}`);
    // Exact results are sorted and scores agree with the ANN's similarity convention.
    for (let j = 1; j < 10; j++) assert.ok(exact.scores[j - 1] >= exact.scores[j]);
    assert.equal(approx.ixs[0], exact.ixs[0]);
    assert.ok(Math.abs(approx.scores[0] - exact.scores[0]) < 1e-4);
  });
}

test('exact search matches a naive sort', () => {
  const d = 5;
  const { ixs, vecs } = data(200, d, 3);
  const q = data(1, d, 4).vecs;
  const r = exactSearch(ixs, vecs, q, d, 7);
  const naive = Array.from(ixs, (ix, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += vecs[i * d + j] * q[j];
    return { ix, s };
  }).sort((a, b) => b.s - a.s);
  assert.deepEqual(Array.from(r.ixs), naive.slice(0, 7).map((x) => x.ix));
});

test('save/load round trip returns the same neighbours; expansionSearch can be overridden', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ann-'));
  try {
    const d = 8;
    const { ixs, vecs } = data(1000, d, 5);
    const queries = data(20, d, 6).vecs;
    const index = new AnnIndex({ dims: d, metric: 'cos', connectivity: 8 });
    index.add(ixs, vecs);
    const path = join(dir, 'items.usearch');
    index.save(path);
    const loaded = AnnIndex.load(path);
    assert.equal(loaded.size, 1000);
    assert.deepEqual(loaded.config, index.config);
    assert.deepEqual(Array.from(loaded.search(queries, 5).ixs), Array.from(index.search(queries, 5).ixs));
    assert.equal(AnnIndex.load(path, { expansionSearch: 7 }).config.expansionSearch, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('remove drops items from results; re-add replaces a vector', () => {
  const d = 4;
  const index = new AnnIndex({ dims: d });
  index.add(Int32Array.of(0, 1, 2), Float32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0));
  const q = Float32Array.of(1, 0.1, 0, 0);
  assert.equal(index.search(q, 1).ixs[0], 0);
  assert.equal(index.remove(Int32Array.of(0, 42)), 1);
  assert.equal(index.size, 2);
  assert.equal(index.contains(0), false);
  const r = index.search(q, 3);
  assert.deepEqual(Array.from(r.ixs), [1, 2, -1]);
  assert.equal(r.scores[2], -Infinity);
  index.add(Int32Array.of(2), Float32Array.of(2, 0, 0, 0));
  assert.equal(index.size, 2);
  assert.equal(index.search(q, 1).ixs[0], 2);
});

test('bad input is rejected with the field named', () => {
  const index = new AnnIndex({ dims: 4 });
  assert.throws(() => index.add(Int32Array.of(0), new Float32Array(3)), ValidationError);
  assert.throws(() => index.add(Int32Array.of(0, 1), new Float32Array(4)), /disagree/);
  assert.throws(() => index.add(Int32Array.of(0), Float32Array.of(1, NaN, 0, 0)), /non-finite/);
  assert.throws(() => index.search(new Float32Array(4), 0), /k must be/);
  assert.throws(() => new AnnIndex({ dims: 0 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'ann.dims');
});

test('fromMatrix indexes rows by position and skips excluded items', () => {
  const d = 3;
  const vecs = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.9, 0.1, 0);
  const index = AnnIndex.fromMatrix(vecs, { dims: d }, new Set([0]));
  assert.equal(index.size, 3);
  assert.equal(index.search(Float32Array.of(1, 0, 0), 1).ixs[0], 3);
});
