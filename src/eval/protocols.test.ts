import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists, type InteractionDataset } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { quantile, split, splitLeaveOneOut, splitTemporal } from './protocols.js';

const rows = (s: { offsets: Int32Array; items: Int32Array }): number[][] =>
  Array.from({ length: s.offsets.length - 1 }, (_, u) => [...s.items.subarray(s.offsets[u], s.offsets[u + 1])]);

test('loo-full: last = test, second last = validation, rest = train; short users only train', () => {
  const seqs = sequencesFromLists([[0, 1, 2, 3], [4, 5], [1, 2, 3]], 6);
  const s = splitLeaveOneOut(seqs);
  assert.deepEqual(rows(s.train), [[0, 1], [4, 5], [1]]);
  assert.deepEqual([...s.validTargets], [2, -1, 2]);
  assert.deepEqual(rows(s.testHistory), [[0, 1, 2], [4, 5], [1, 2]]);
  assert.deepEqual([...s.testUsers], [0, 2]);
  assert.deepEqual([...s.testTargetOffsets], [0, 1, 2]);
  assert.deepEqual([...s.testTargets], [3, 3]);
  assert.equal(s.skippedUsers, 1);
  assert.equal(s.train.numItems, 6);
});

function timed(lists: number[][], times: number[][], numItems: number): InteractionDataset {
  return {
    name: 'tiny',
    seqs: sequencesFromLists(lists, numItems),
    userIds: lists.map((_, u) => `u${u}`),
    itemIds: Array.from({ length: numItems }, (_, i) => `i${i}`),
    timestampsMs: Float64Array.from(times.flat()),
  };
}

test('temporal: history before the cut, new distinct future items are targets, last history item validates', () => {
  const ds = timed(
    [[0, 1, 2, 5, 5], [3, 4], [5], [2, 2]],
    [[1, 2, 3, 10, 11], [5, 11], [12], [4, 10]],
    6,
  );
  const s = splitTemporal(ds, { cutMs: 9 });
  assert.equal(s.cutMs, 9);
  assert.deepEqual(rows(s.testHistory), [[0, 1, 2], [3], [], [2]]);
  assert.deepEqual(rows(s.train), [[0, 1], [3], [], [2]]);
  assert.deepEqual([...s.validTargets], [2, -1, -1, -1]);
  // user 0: 5 twice → once; user 2: no history; user 3: only a repeat after the cut.
  assert.deepEqual([...s.testUsers], [0, 1]);
  assert.deepEqual([...s.testTargetOffsets], [0, 1, 2]);
  assert.deepEqual([...s.testTargets], [5, 4]);
  assert.equal(s.skippedUsers, 2);
  // Default cut: 90th percentile of all timestamps (nearest rank).
  assert.equal(split(ds, 'temporal').cutMs, quantile(ds.timestampsMs!, 0.9));
  assert.equal(quantile(Float64Array.from([5, 1, 4, 2, 3]), 0.4), 2);
  assert.equal(quantile(Float64Array.from([5, 1, 4, 2, 3]), 0.9), 5);
});

test('temporal without timestamps or with a bad quantile is a ValidationError naming the field', () => {
  const ds: InteractionDataset = { name: 'x', seqs: sequencesFromLists([[0, 1]], 2), userIds: ['a'], itemIds: ['p', 'q'] };
  assert.throws(() => split(ds, 'temporal'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'protocol');
  const t = timed([[0, 1]], [[1, 2]], 2);
  assert.throws(() => splitTemporal(t, { cutQuantile: 1.5 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'cut');
});

test('loo-sampled100 uses the loo-full split', () => {
  const ds = timed([[0, 1, 2]], [[1, 2, 3]], 3);
  const s = split(ds, 'loo-sampled100');
  assert.equal(s.protocol, 'loo-sampled100');
  assert.deepEqual([...s.testTargets], [2]);
});
