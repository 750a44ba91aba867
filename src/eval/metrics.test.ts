import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildTagIndex,
  coverage,
  gini,
  groupExposure,
  hitAt,
  intraListDiversity,
  multiTargetRanks,
  ndcgAt,
  recallAt,
  reciprocalRank,
  selfInformation,
  singleTargetRank,
  tagJaccard,
} from './metrics.js';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} ≉ ${b}`);

test('single-target rank is pessimistic: ties count against the target', () => {
  const row = Float32Array.from([0.5, 0.9, 0.5, 0.1]);
  assert.equal(singleTargetRank(row, 0, 4, 1), 0);
  assert.equal(singleTargetRank(row, 0, 4, 0), 2); // item 1 above, item 2 tied
  assert.equal(singleTargetRank(row, 0, 4, 2), 2);
  assert.equal(singleTargetRank(row, 0, 4, 3), 3);
  // All-equal scores put the target last, not first.
  assert.equal(singleTargetRank(new Float32Array(5).fill(1), 0, 5, 2), 4);
  // NaN target → worst; masked (−∞) items never outrank a finite target; row offset respected.
  assert.equal(singleTargetRank(Float32Array.from([9, 9, NaN, 1]), 2, 2, 0), 1);
  assert.equal(singleTargetRank(Float32Array.from([-Infinity, 0.2, -Infinity]), 0, 3, 1), 0);
});

test('HR, NDCG, MRR for one target at rank 2', () => {
  const r = [2];
  assert.equal(hitAt(r, 1, 2), 0);
  assert.equal(hitAt(r, 1, 3), 1);
  assert.equal(ndcgAt(r, 1, 2), 0);
  close(ndcgAt(r, 1, 3), 0.5); // 1/log2(4)
  close(reciprocalRank(r, 1), 1 / 3);
  close(ndcgAt([0], 1, 10), 1);
  close(recallAt(r, 1, 3), 1);
});

test('multi-target ranks count the other targets above (pessimistic) and give Recall/NDCG', () => {
  const row = Float32Array.from([0.9, 0.1, 0.8, 0.5, 0.8]);
  const ranks = new Int32Array(3);
  const sorted = new Float64Array(3);
  const cnt = new Int32Array(4);
  multiTargetRanks(row, 0, 5, Int32Array.from([2, 3]), 0, 2, sorted, cnt, ranks);
  assert.deepEqual([...ranks.subarray(0, 2)], [2, 3]); // 0.8: {0.9, 0.8 tie}; 0.5: {0.9, 0.8, 0.8}
  assert.equal(hitAt(ranks, 2, 3), 1);
  close(recallAt(ranks, 2, 3), 0.5);
  close(ndcgAt(ranks, 2, 3), 0.5 / (1 + 1 / Math.log2(3)));
  close(ndcgAt(ranks, 2, 5), (0.5 + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)));
  close(reciprocalRank(ranks, 2), 1 / 3);
  // Two targets tied at 0.8: each counts the other against itself.
  multiTargetRanks(row, 0, 5, Int32Array.from([0, 2, 4]), 0, 3, sorted, cnt, ranks);
  assert.deepEqual([...ranks], [0, 2, 2]);
  // Agrees with the single-target kernel target by target.
  const rnd = Float32Array.from({ length: 50 }, (_, i) => Math.round(Math.sin(i * 7.3) * 4) / 4);
  const tg = Int32Array.from([3, 17, 40]);
  multiTargetRanks(rnd, 0, 50, tg, 0, 3, sorted, cnt, ranks);
  const single = [...tg].map((t) => singleTargetRank(rnd, 0, 50, t)).sort((a, b) => a - b);
  assert.deepEqual([...ranks], single);
});

test('coverage, novelty (self-information), Gini and creator exposure', () => {
  close(coverage(Int32Array.from([0, 2, 1, 0])), 0.5);
  const si = selfInformation(Int32Array.from([3, 1, 0])); // p = 4/7, 2/7, 1/7
  close(si[0], -Math.log2(4 / 7));
  close(si[1], -Math.log2(2 / 7));
  close(si[2], -Math.log2(1 / 7));
  close(gini([1, 1, 1, 1]), 0);
  close(gini([0, 0, 0, 4]), 0.75);
  close(gini([3, 1, 2]), 4 / 18);
  close(gini([0, 0]), 0);
  assert.deepEqual([...groupExposure(Int32Array.from([1, 2, 3, 4]), Int32Array.from([0, 1, 0, -1]), 2)], [4, 2]);
});

test('intra-list diversity from tag Jaccard and from embedding cosine', () => {
  const tags = buildTagIndex([['a', 'b'], ['b', 'c'], [], ['a', 'b', 'a']]);
  close(tagJaccard(tags, 0, 1), 1 / 3);
  assert.ok(Number.isNaN(tagJaccard(tags, 0, 2)));
  close(tagJaccard(tags, 0, 3), 1); // duplicate tags collapse
  // Pairs with an untagged item are skipped: only (0,1) counts.
  close(intraListDiversity(Int32Array.from([0, 1, 2]), 0, 3, { kind: 'tags', tags }), 2 / 3);
  assert.ok(Number.isNaN(intraListDiversity(Int32Array.from([2]), 0, 1, { kind: 'tags', tags })));
  const emb = Float32Array.from([1, 0, 0, 1, 1, 1]);
  const meanCos = (0 + Math.SQRT1_2 + Math.SQRT1_2) / 3;
  close(intraListDiversity(Int32Array.from([0, 1, 2]), 0, 3, { kind: 'embeddings', emb, dim: 2 }), 1 - meanCos, 1e-6);
});
