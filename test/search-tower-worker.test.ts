/**
 * The serving index's content tower is trained in a worker thread: the index is first ready with the
 * untrained tower, the server keeps answering while the worker trains on a read-only connection to the
 * SQLite file, and the trained weights are then swapped in (items upserted meanwhile included).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp } from '../src/serve/app.js';
import { LiveSearch } from '../src/serve/live-search.js';
import { storeFilePath } from '../src/search/tower-worker.js';
import { CLIENT, JSON_ADMIN, startStack, type TestStack, typo } from './helpers.js';

let s: TestStack;
before(async () => {
  s = await startStack({ users: 80, items: 200, eventsPerUser: 15 });
});
after(async () => {
  await s?.close();
});

test('the content tower trains in a worker while the server answers, then is swapped in', async () => {
  assert.ok(storeFilePath(s.store), 'the test store is a SQLite file');
  const live = new LiveSearch(s.engine);
  const app = buildApp({ engine: s.engine, ingestor: new Ingestor(s.store, live.listeners()), config: s.config, search: live });
  const logs: string[] = [];
  try {
    const report = await live.build(s.store, (m) => logs.push(m), { tower: { steps: 40, batchSize: 64 } });
    assert.ok(report && report.items === s.data.items.length);
    const index = live.get()!;
    assert.equal(index.towerTrained, false, 'ready first with the untrained tower');
    assert.equal(index.towerVersion, 0);
    assert.ok(live.towerReady, 'off-thread training started');
    const untrained = index.encoderState().weights.slice();

    // An item written while the worker trains (it is not in the worker's snapshot).
    const fresh = { id: 'during-training', title: 'Xylophone Borealis Cantata', creatorId: 'c-new', tags: ['ambient'] };
    assert.equal((await app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: JSON.stringify([fresh]) })).statusCode, 200);

    // The event loop stays free: /healthz answers while training runs.
    let done = false;
    const finished = live.towerReady.then((r) => {
      done = true;
      return r;
    });
    let answeredWhileTraining = 0;
    while (!done) {
      const h = await app.inject({ url: '/healthz' });
      assert.equal(h.statusCode, 200);
      if (!index.towerTrained) answeredWhileTraining++;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(answeredWhileTraining >= 1, 'healthz answered during training');
    const tower = await finished;
    assert.ok(tower && tower.steps === 40, `tower report: ${JSON.stringify(tower)} logs: ${logs.join(' | ')}`);
    assert.equal(index.towerTrained, true);
    assert.equal(index.towerVersion, 1);
    assert.ok(logs.some((m) => /search content tower trained in \d+\.\d s/.test(m)), logs.join(' | '));
    const trained = index.encoderState();
    assert.ok(trained.weights.some((v, i) => v !== untrained[i]), 'weights changed');

    // Search still finds a typo'd title, and the item upserted meanwhile is embedded by the new tower.
    const counts = new Map<string, number>();
    for (const it of s.data.items) counts.set(it.title, (counts.get(it.title) ?? 0) + 1);
    const target = s.data.items.find((it) => counts.get(it.title) === 1 && it.title.length >= 10)!;
    const q = typo(target.title);
    const r = await app.inject({ url: `/v1/search?q=${encodeURIComponent(q)}&n=10`, headers: CLIENT });
    assert.equal(r.statusCode, 200);
    const ids = (r.json() as { items: { itemId: string }[] }).items.map((x) => x.itemId);
    assert.ok(ids.slice(0, 3).includes(target.id), `${target.id} "${target.title}" not in the top 3 for "${q}": ${ids.join(',')}`);
    const sem = index.search({ q: 'xylophone borealis cantata', mode: 'semantic', n: 3 });
    assert.equal(sem.itemIds[0], 'during-training');
  } finally {
    live.close();
    await app.close();
  }
});

test('no off-thread training without a store file; close terminates a running worker', async () => {
  const mem = { scanItems: s.store.scanItems.bind(s.store), scanEvents: s.store.scanEvents.bind(s.store) };
  const a = new LiveSearch(s.engine);
  await a.build(mem, () => undefined);
  assert.equal(await a.towerReady, undefined);
  assert.equal(a.get()!.towerTrained, false);
  a.close();

  const b = new LiveSearch(s.engine);
  const logs: string[] = [];
  await b.build(s.store, (m) => logs.push(m), { tower: { steps: 100_000 } });
  b.close();
  assert.equal(await b.towerReady, undefined);
  assert.equal(b.get()!.towerTrained, false);
  assert.ok(!logs.some((m) => m.startsWith('warning')), logs.join(' | '));
});
