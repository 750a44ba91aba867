import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { Rng } from '../core/rng.js';
import type { FitReport, Recommender } from '../models/types.js';
import { evaluateQueries, evaluateSplit, validate, type Queries } from './evaluate.js';
import { splitLeaveOneOut } from './protocols.js';

/** Returns fixed per-user score rows: scores[u] is the row for user u. */
class FixedModel implements Recommender {
  readonly name = 'fixed';
  constructor(private readonly scores: number[][]) {}
  async fit(): Promise<FitReport> {
    return { params: {}, trainSeconds: 0 };
  }
  scoreBatch(_h: Sequences, users: Int32Array, out: Float32Array): void {
    const n = this.scores[0].length;
    users.forEach((u, r) => out.set(this.scores[u], r * n));
  }
}

const close = (a: unknown, b: number, eps = 1e-9): void => assert.ok(Math.abs(Number(a) - b) < eps, `${String(a)} ≉ ${b}`);

// 3 users, 6 items. History is masked; the target keeps its score.
const histories = sequencesFromLists([[0], [1, 2], [5]], 6);
const scores = [
  [9, 5, 4, 3, 2, 1], // target 1: item 0 masked → rank 0
  [1, 9, 9, 2, 2, 0], // target 3: items 1,2 masked; item 4 ties → rank 1
  [1, 2, 3, 4, 5, 6], // target 0: 4 items above → rank 4
];
const q: Queries = {
  histories,
  users: Int32Array.from([0, 1, 2]),
  targetOffsets: Int32Array.from([0, 1, 2, 3]),
  targets: Int32Array.from([1, 3, 0]),
};

test('evaluate: masking, pessimistic ranks and averaged metrics match hand computation', async () => {
  const r = await evaluateQueries(new FixedModel(scores), q, { ks: [1, 2, 5], trainItems: histories.items });
  close(r['HR@1'], 1 / 3);
  close(r['HR@2'], 2 / 3);
  close(r['HR@5'], 1);
  close(r['NDCG@2'], (1 + 1 / Math.log2(3)) / 3);
  close(r['NDCG@5'], (1 + 1 / Math.log2(3) + 1 / Math.log2(6)) / 3);
  close(r.MRR, (1 + 1 / 2 + 1 / 5) / 3);
  close(r['Recall@2'], 2 / 3);
  assert.equal(r.users, 3);
  // Top-2 lists: u0 [1,2], u1 [3,4], u2 [4,3] → items {1,2,3,4} of 6.
  close(r['coverage@2'], 4 / 6);
  close(r['gini_items@1'], giniRef([0, 1, 0, 1, 1, 0]));
  // Novelty from train counts [1,1,1,0,0,1] (N=4): p = (c+1)/(4+6).
  const si = (c: number): number => -Math.log2((c + 1) / 10);
  close(r['novelty@2'], (si(1) + si(1) + si(0) + si(0) + si(0) + si(0)) / 6);
  assert.equal(r['diversity@2'], null); // no tags given
});

function giniRef(x: number[]): number {
  let s = 0;
  for (const a of x) for (const b of x) s += Math.abs(a - b);
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  return s / (2 * x.length * x.length * mean);
}

test('evaluate: block size does not change results; creators and tags feed Gini and diversity', async () => {
  const side = { tags: [['a'], ['a', 'b'], ['b'], ['c'], ['c'], ['a']], creators: ['x', 'x', 'y', 'y', undefined, 'z'] };
  const a = await evaluateQueries(new FixedModel(scores), q, { ks: [2], side, blockUsers: 1 });
  const b = await evaluateQueries(new FixedModel(scores), q, { ks: [2], side, blockUsers: 256 });
  assert.deepEqual(a, b);
  // Lists u0 [1,2] J({a,b},{b}) = 1/2, u1 [3,4] J=1, u2 [4,3] J=1 → ILD mean = (1/2 + 0 + 0)/3.
  close(a['diversity@2'], 1 / 6);
  // Creator exposure: x=1 (item1), y=1+2 (item2, item3 twice), z=0 → [1,3,0].
  close(a['gini_creators@2'], giniRef([1, 3, 0]));
});

test('evaluate: multi-target queries give Recall@k and position-based NDCG', async () => {
  const m = new FixedModel([[5, 4, 3, 2, 1, 0]]);
  const qq: Queries = { histories: sequencesFromLists([[0]], 6), users: Int32Array.from([0]), targetOffsets: Int32Array.from([0, 2]), targets: Int32Array.from([2, 4]) };
  const r = await evaluateQueries(m, qq, { ks: [2, 5] });
  // Item 0 masked: ranks of 2 and 4 are 1 and 3.
  close(r['Recall@2'], 0.5);
  close(r['HR@2'], 1);
  close(r['NDCG@5'], (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)));
  close(r.MRR, 0.5);
});

test('loo-sampled100 adds sampled columns next to (not instead of) full ranking, deterministically', async () => {
  const rng = new Rng(3);
  const numItems = 400;
  const lists = Array.from({ length: 30 }, () => Array.from({ length: 5 }, () => rng.int(numItems)));
  const s = { ...splitLeaveOneOut(sequencesFromLists(lists, numItems)), protocol: 'loo-sampled100' as const };
  const rows = Array.from({ length: 30 }, () => Array.from({ length: numItems }, () => rng.next()));
  const r1 = await evaluateSplit(new FixedModel(rows), s, { seed: 7 });
  const r2 = await evaluateSplit(new FixedModel(rows), s, { seed: 7 });
  assert.deepEqual(r1, r2);
  assert.ok(r1['HR@10'] !== undefined && r1['sampled100_HR@10'] !== undefined);
  // Ranking among 100 sampled negatives can only be easier than among all items.
  assert.ok(Number(r1['sampled100_HR@10']) >= Number(r1['HR@10']));
  assert.ok(Number(r1['sampled100_NDCG@10']) >= Number(r1['NDCG@10']));
  const full = await evaluateSplit(new FixedModel(rows), { ...s, protocol: 'loo-full' }, { seed: 7 });
  assert.equal(full['sampled100_HR@10'], undefined);
  assert.equal(full['HR@10'], r1['HR@10']);
});

test('validate ranks the validation targets with train as history, on a seeded subsample', async () => {
  const s = splitLeaveOneOut(sequencesFromLists([[0, 1, 2, 3], [1, 2, 3, 4]], 6));
  // Scores favour item 2 then 3: user 0's validation item is 2 (rank 0), user 1's is 3 (rank 0 after masking 1,2).
  const m = new FixedModel([[0, 0, 9, 8, 1, 1], [0, 0, 9, 8, 1, 1]]);
  const v = await validate(m, { train: s.train, validTargets: s.validTargets, seed: 1 });
  close(v['NDCG@10'], 1);
  assert.equal(v.users, 2);
  const sub = await validate(m, { train: s.train, validTargets: s.validTargets, seed: 1 }, { maxUsers: 1 });
  assert.equal(sub.users, 1);
});
