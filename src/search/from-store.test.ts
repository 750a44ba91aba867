import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSynthetic } from '../core/synth.js';
import { MemoryStore } from '../store/memory.js';
import { buildSearchIndexFromStore, trainTowerFromStore } from './from-store.js';

test('a search index built from a store finds items by title with a typo and by tag', async () => {
  const data = generateSynthetic({ seed: 9, users: 60, items: 200, creators: 20, days: 5, eventsPerUser: 20, startMs: Date.now() - 5 * 86_400_000 });
  const store = new MemoryStore();
  await store.migrate();
  await store.upsertItems(data.items);
  await store.appendEvents(data.events);
  const { index, report } = await buildSearchIndexFromStore(store, { train: { steps: 20, batchSize: 32 } });
  assert.equal(report.items, 200);
  assert.ok(report.events > 0 && report.tower !== undefined);
  const target = data.items.find((it) => it.available && it.title.split(' ').every((w) => w.length >= 5))!;
  const typo = target.title.slice(0, 2) + target.title.slice(3); // one deletion in the first word
  const r = index.search({ q: typo, n: 10 });
  assert.ok(r.itemIds.includes(target.id), `${typo} → ${r.itemIds}`);
  const tag = target.tags[0];
  const byTag = index.search({ q: tag, n: 5, tags: [tag] });
  assert.ok(byTag.itemIds.length > 0);
  for (const id of byTag.itemIds) assert.ok(data.items.find((it) => it.id === id)!.tags.includes(tag));
});

test('the tower worker’s lean training gives the weights of a whole-index build on the same store', async () => {
  const data = generateSynthetic({ seed: 5, users: 50, items: 150, creators: 15, days: 5, eventsPerUser: 15, startMs: Date.now() - 5 * 86_400_000 });
  const store = new MemoryStore();
  await store.migrate();
  await store.upsertItems(data.items);
  await store.appendEvents(data.events);
  const train = { steps: 15, batchSize: 32 };
  const { index, report } = await buildSearchIndexFromStore(store, { train });
  const lean = await trainTowerFromStore(store, { train });
  assert.ok(lean && report.tower);
  assert.equal(lean.report.items, report.items);
  assert.equal(lean.report.events, report.events);
  assert.equal(lean.report.tower!.lossEnd, report.tower.lossEnd);
  const want = index.encoderState();
  assert.deepEqual(lean.state.config, want.config);
  assert.deepEqual(lean.state.idf, want.idf);
  assert.deepEqual(lean.state.weights, want.weights);
  assert.equal(await trainTowerFromStore(new MemoryStore()), undefined, 'no tower for an empty catalog');
});
