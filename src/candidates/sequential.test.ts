// The sequence the sasrec source reads from the live history: oldest first, positives only, consecutive
// events on one item collapsed, the newest kept when the buffer is short, session-only or the whole ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserHistories } from '../features/history.js';
import { sequenceFromHistory } from './sequential.js';

test('sequenceFromHistory: order, positives, collapsed repeats, session scope and truncation', () => {
  const hs = new UserHistories({ size: 20, sessionGapMs: 1_000, maxConsumed: 100, hardNegativeWeight: -2 });
  // Session 1: 1, 2, 2 (complete), 3 skipped (negative). Session 2 (after a gap): 4, 4, 5, 2.
  const events: [number, number, number][] = [[1, 1, 0], [2, 1, 10], [2, 2, 20], [3, -1, 30], [4, 1, 5_000], [4, 3, 5_010], [5, 1, 5_020], [2, 1, 5_030]];
  for (const [item, w, t] of events) hs.push(0, item, w, t, undefined);
  const h = hs.get(0)!;
  const out = new Int32Array(10);
  assert.deepEqual(Array.from(out.subarray(0, sequenceFromHistory(h, false, out))), [1, 2, 4, 5, 2]);
  assert.deepEqual(Array.from(out.subarray(0, sequenceFromHistory(h, true, out))), [4, 5, 2]);
  const short = new Int32Array(2);
  assert.equal(sequenceFromHistory(h, false, short), 2);
  assert.deepEqual(Array.from(short), [5, 2]);
  assert.equal(sequenceFromHistory(undefined, false, out), 0);
  // keep() drops items (unknown to a model) before repeats collapse: 1, 2, [4 dropped], 5, 2.
  assert.deepEqual(Array.from(out.subarray(0, sequenceFromHistory(h, false, out, (ix) => ix !== 4 && ix !== 5))), [1, 2]);
});
