import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopK } from './topk.js';

test('TopK keeps the k best, ties to the lower item index, best first', () => {
  const h = new TopK(3);
  h.reset(3);
  [3, 1, 3, 2, 5].forEach((s, i) => h.push(i, s));
  const out = new Int32Array(3);
  const scores = new Float32Array(3);
  assert.equal(h.drain(out, scores), 3);
  assert.deepEqual([...out], [4, 0, 2]);
  assert.deepEqual([...scores], [5, 3, 3]);
  h.reset(3);
  h.push(7, 1);
  assert.equal(h.drain(out, scores), 1);
  assert.equal(out[0], 7);
  assert.throws(() => h.reset(4), RangeError);
});
