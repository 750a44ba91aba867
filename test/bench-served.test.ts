/**
 * bench served end to end on a tiny synthetic world: import, heuristic server, a trainer round with tiny
 * models, the served server with the trained versions loaded, and the offline figure of the same artifacts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServed } from '../bench/served.js';
import { loadTrainingData } from '../src/train/data.js';
import { generateSynthetic, syntheticToDataset } from '../src/core/synth.js';
import { split } from '../src/eval/protocols.js';
import { openStore } from '../src/store/index.js';

test('bench served: every metric key present and in [0, 1], the trained versions served', { timeout: 120_000 }, async () => {
  const keep = mkdtempSync(join(tmpdir(), 'tm-served-test-'));
  const r = await runServed({
    keep,
    data: 'demo',
    format: 'sasrec',
    maxMinutes: 0.2,
    users: 60,
    seed: 3,
    skipHeuristic: false,
    skipOffline: false,
    concurrency: 4,
    demo: { users: 120, items: 150, eventsPerUser: 25 },
    trainParams: {
      twotower: { examplesPerEpoch: 2_000, maxEpochs: 2, validUsers: 100 },
      sasrec: { maxEpochs: 2, dim: 16, maxLen: 20 },
    },
    log: () => undefined,
  });
  try {
    await assertStoreHoldsTestHistory(join(keep, 'served.db'));
  } finally {
    rmSync(keep, { recursive: true, force: true });
  }
  assert.equal(r.users, 60);
  assert.equal(r.unknownTargets, 0);
  assert.equal(r.errors, 0);
  for (const prefix of ['', 'heuristic.']) {
    for (const key of ['home.NDCG@10', 'home.HR@10', 'next.NDCG@10', 'next.HR@10']) {
      const v = r[prefix + key];
      assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${prefix + key} = ${String(v)}`);
    }
  }
  for (const key of ['offline.NDCG@10', 'offline.HR@10', 'offline.eval.NDCG@10', 'offline.twotower.NDCG@10', 'offline.sasrec.HR@10']) {
    const v = r[key];
    assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${key} = ${String(v)}`);
  }
  // Repeated held-out items are misses offline as in the served lists; eval's convention ranks them.
  assert.equal(typeof r.repeatTargets, 'number');
  assert.ok((r['offline.eval.HR@10'] as number) >= (r['offline.HR@10'] as number));
  // NDCG@10 of one target never exceeds HR@10.
  assert.ok((r['home.NDCG@10'] as number) <= (r['home.HR@10'] as number));
  const versions = r.modelVersions as Record<string, string>;
  assert.match(versions.twotower, /^twotower@v\d+$/);
  assert.match(versions.sasrec, /^sasrec@v\d+$/);
  // The served blend, when its job activated one, is also scored offline (as served: z-score mix).
  if (versions.blend) assert.ok(typeof r['offline.blend.NDCG@10'] === 'number' && r['offline.model'] === 'blend');
  assert.equal(typeof r.train_seconds, 'number');
  assert.ok(typeof (r.latency as { served: { home: { p99Ms: number } } }).served.home.p99Ms === 'number');
});

/** The store holds, per user, exactly eval's loo-full test history of the same world (the held-out item withheld). */
async function assertStoreHoldsTestHistory(db: string): Promise<void> {
  const days = 60;
  const DAY = 86_400_000;
  const data = generateSynthetic({ seed: 3, users: 120, items: 150, creators: Math.round(150 / 8), days, eventsPerUser: 25, startMs: Math.floor(Date.now() / DAY) * DAY - days * DAY });
  const ds = syntheticToDataset(data);
  const { testHistory: h } = split(ds, 'loo-full');
  const store = await openStore(db);
  const stored = await loadTrainingData(store).finally(() => store.close());
  const storedIx = new Map(stored.userIds.map((id, u) => [id, u]));
  let compared = 0;
  for (let u = 0; u < h.numUsers; u++) {
    const want = Array.from(h.items.subarray(h.offsets[u], h.offsets[u + 1]), (i) => ds.itemIds[i]);
    const su = storedIx.get(ds.userIds[u]);
    if (su === undefined) {
      assert.equal(want.length, 0);
      continue;
    }
    const got = Array.from(stored.train.items.subarray(stored.train.offsets[su], stored.train.offsets[su + 1]), (i) => stored.itemIds[i]);
    if (stored.validTargets[su] >= 0) got.push(stored.itemIds[stored.validTargets[su]]);
    assert.deepEqual(got, want, `user ${ds.userIds[u]}`);
    compared++;
  }
  assert.ok(compared > 100);
}
