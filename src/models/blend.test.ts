import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { validate } from '../eval/evaluate.js';
import { splitLeaveOneOut, type EvalSplit } from '../eval/protocols.js';
import { BlendRecommender, standardizeRows } from './blend.js';
import { createModel } from './index.js';
import type { FitReport, Model } from './types.js';

/** 4 taste clusters of 30 items; users draw 12 distinct items of their cluster, Zipf-like inside it. */
function clustered(seed: number): EvalSplit {
  const rng = new Rng(seed);
  const lists: number[][] = [];
  for (let u = 0; u < 240; u++) {
    const c = u % 4;
    const seen = new Set<number>();
    while (seen.size < 12) seen.add(c * 30 + Math.floor(30 * Math.pow(rng.next(), 2)));
    lists.push(rng.shuffle([...seen]));
  }
  return splitLeaveOneOut(sequencesFromLists(lists, 120));
}

class Noise implements Model {
  readonly name = 'noise';
  private rng = new Rng(7);
  async fit(): Promise<FitReport> {
    return { params: {}, trainSeconds: 0 };
  }
  scoreBatch(_h: Sequences, _u: Int32Array, out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.rng.next() * 1000; // a wild scale: standardisation must tame it
  }
  toArtifacts(): { config: Record<string, unknown>; weights: Record<string, Float32Array> } {
    return { config: {}, weights: {} };
  }
  dispose(): void {}
}

const factory = (name: string, p: Record<string, unknown>): Model => (name === 'noise' ? new Noise() : createModel(name, p));

test('standardizeRows gives each row mean 0 and std 1; a constant row becomes zeros', () => {
  const s = new Float32Array([1, 2, 3, 4, 5, 5, 5, 5]);
  standardizeRows(s, 2, 4);
  const mean = (s[0] + s[1] + s[2] + s[3]) / 4;
  const std = Math.sqrt((s[0] ** 2 + s[1] ** 2 + s[2] ** 2 + s[3] ** 2) / 4);
  assert.ok(Math.abs(mean) < 1e-6);
  assert.ok(Math.abs(std - 1) < 1e-5);
  assert.deepEqual(Array.from(s.subarray(4)), [0, 0, 0, 0]);
});

test('blend chooses weights on validation: never worse than its best member there, noise gets (almost) no weight', async () => {
  const s = clustered(3);
  const ctx = { train: s.train, validTargets: s.validTargets, seed: 11 };
  const blend = new BlendRecommender(factory, { members: ['itemknn', 'noise', 'popular'] });
  const rep = await blend.fit(ctx);
  const w = Array.from(blend.weights);
  assert.equal(w.length, 3);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-9, `weights sum to 1: ${w}`);
  assert.ok(w[1] <= 0.1, `noise weight ${w[1]}`);
  assert.ok(w[0] > 0.3, `itemknn weight ${w[0]}`);
  const knn = createModel('itemknn');
  await knn.fit(ctx);
  const vKnn = (await validate(knn, ctx, { maxUsers: 10_000 }))['NDCG@10'];
  const vBlend = (await validate(blend, ctx, { maxUsers: 10_000 }))['NDCG@10'];
  assert.ok(vBlend >= vKnn - 0.01, `blend ${vBlend} vs itemknn ${vKnn}`);
  assert.ok(Math.abs((rep.valid?.['NDCG@10'] ?? 0) - vBlend) < 0.03, `reported ${rep.valid?.['NDCG@10']} vs measured ${vBlend}`);
  const params = rep.params as { members: string[]; memberReports: unknown[] };
  assert.deepEqual(params.members, ['itemknn', 'noise', 'popular']);
  assert.equal(params.memberReports.length, 3);
  await blend.dispose();
});

test('blend splits the time budget: a member that stops early leaves its time to the next', async () => {
  const seen: (number | undefined)[] = [];
  const spy = (name: string): Model => ({
    toArtifacts: () => ({ config: {}, weights: {} }),
    dispose: () => undefined,
    name,
    async fit(c) {
      seen.push(c.maxMinutes);
      return { params: {}, trainSeconds: 0 };
    },
    scoreBatch(_h, _u, out) {
      out.fill(0);
    },
  });
  const s = clustered(4);
  const blend = new BlendRecommender((n) => spy(n), { members: ['a', 'b'], shares: [1, 3] });
  await blend.fit({ train: s.train, validTargets: s.validTargets, seed: 1, maxMinutes: 8 });
  assert.ok(Math.abs((seen[0] ?? 0) - 2) < 0.01, `first member gets a quarter: ${seen[0]}`);
  assert.ok((seen[1] ?? 0) > 7.9, `second gets the rest: ${seen[1]}`);
});

test('bad blend parameters are named', () => {
  assert.throws(() => new BlendRecommender(factory, { members: ['itemknn'] }), (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.path === 'params.members'));
  assert.throws(() => new BlendRecommender(factory, { members: ['itemknn', 'blend'] }), (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.path === 'params.members'));
  assert.throws(() => new BlendRecommender(factory, { members: ['itemknn', 'popular'], shares: [1] }), (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.path === 'params.shares'));
  assert.throws(() => new BlendRecommender(factory, { memberParams: { ease: {} } }), (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.path === 'params.memberParams.ease'));
});
