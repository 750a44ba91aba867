/**
 * bench served end to end on a tiny synthetic world: import, heuristic server, a trainer round with tiny
 * models, the served server with the trained versions loaded, and the offline figure of the same artifacts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runServed } from '../bench/served.js';

test('bench served: every metric key present and in [0, 1], the trained versions served', { timeout: 120_000 }, async () => {
  const r = await runServed({
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
  assert.equal(r.users, 60);
  assert.equal(r.unknownTargets, 0);
  assert.equal(r.errors, 0);
  for (const prefix of ['', 'heuristic.']) {
    for (const key of ['home.NDCG@10', 'home.HR@10', 'next.NDCG@10', 'next.HR@10']) {
      const v = r[prefix + key];
      assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${prefix + key} = ${String(v)}`);
    }
  }
  for (const key of ['offline.NDCG@10', 'offline.HR@10', 'offline.twotower.NDCG@10', 'offline.sasrec.HR@10']) {
    const v = r[key];
    assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${key} = ${String(v)}`);
  }
  // NDCG@10 of one target never exceeds HR@10.
  assert.ok((r['home.NDCG@10'] as number) <= (r['home.HR@10'] as number));
  const versions = r.modelVersions as Record<string, string>;
  assert.match(versions.twotower, /^twotower@v\d+$/);
  assert.match(versions.sasrec, /^sasrec@v\d+$/);
  assert.equal(typeof r.train_seconds, 'number');
  assert.ok(typeof (r.latency as { served: { home: { p99Ms: number } } }).served.home.p99Ms === 'number');
});
