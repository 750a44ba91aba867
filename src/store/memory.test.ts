import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStoreConformance } from './conformance.js';
import { MemoryStore } from './memory.js';

// The shared suite (idempotency, cascades, scans, impressions, meta) holds the behavioural assertions.
runStoreConformance('memory', async () => ({ store: new MemoryStore() }));

test('memory store: separate instances share nothing', async () => {
  const a = new MemoryStore();
  const b = new MemoryStore();
  await a.migrate();
  await b.migrate();
  await a.upsertItems([{ id: 'x', title: 'X', text: '', tags: [], attributes: {}, available: true, createdAt: 1 }]);
  assert.equal(await a.countItems(), 1);
  assert.equal(await b.countItems(), 0);
  assert.equal(await b.getItem('x'), undefined);
});
