/**
 * The search index kept in a worker thread (src/search/search-worker.ts) answers exactly as the same
 * index built in process from the same store: searches in every mode, with filters and personal
 * history, suggestions, content neighbours, and after the same writes. Writes posted while the worker
 * still builds are applied before it reports ready. Through serve's LiveSearch in worker mode the HTTP
 * contract is unchanged (503 + Retry-After until ready) and the tower trained off-thread is swapped in.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildSearchIndexFromStore } from '../src/search/from-store.js';
import type { SearchQuery } from '../src/search/search-index.js';
import { SearchWorkerClient } from '../src/search/search-worker.js';
import { storeFilePath } from '../src/search/tower-worker.js';
import { buildApp } from '../src/serve/app.js';
import type { Engine } from '../src/engine/types.js';
import { LiveSearch, WORKER_MIN_ITEMS } from '../src/serve/live-search.js';
import { ADMIN, CLIENT, JSON_ADMIN, startStack, type TestStack, typo } from './helpers.js';

let s: TestStack;
before(async () => {
  s = await startStack({ users: 120, items: 300, eventsPerUser: 20 });
});
after(async () => {
  await s?.close();
});

/** Queries covering every mode, typos, prefixes, filters and personalisation. */
function queries(): SearchQuery[] {
  const items = s.data.items;
  const out: SearchQuery[] = [];
  for (let i = 0; i < 12; i++) {
    const it = items[(i * 37) % items.length];
    const mode = (['hybrid', 'lexical', 'semantic', 'rrf'] as const)[i % 4];
    out.push({ q: it.title, n: 10, mode });
    out.push({ q: typo(it.title), n: 10, mode });
    out.push({ q: it.title.slice(0, Math.max(3, Math.floor(it.title.length / 2))), n: 5, mode });
  }
  const tagged = items.find((it) => it.tags.length > 0)!;
  out.push({ q: tagged.title, n: 20, tags: [tagged.tags[0]] });
  out.push({ q: tagged.tags[0], n: 20, creator: tagged.creatorId, mode: 'rrf' });
  const history = s.data.events.filter((e) => e.userId === s.data.users[0].id).map((e) => e.itemId);
  out.push({ q: tagged.tags[0], n: 20, userHistory: history });
  out.push({ q: 'zzzz qqqq', n: 10 });
  return out;
}

test('a worker-built index answers exactly as the in-process one, before and after the same writes', async () => {
  const path = storeFilePath(s.store);
  assert.ok(path, 'the test store is a SQLite file');
  const { index: local } = await buildSearchIndexFromStore(s.store, { train: { steps: 0 } });
  const remote = new SearchWorkerClient({ storePath: path, train: { steps: 0 } }, { contentTimeoutMs: 5_000 });
  try {
    // Written while the worker builds: queued there and applied before ready.
    const early = { id: 'early-item', title: 'Quokka Serenade in Teal', text: 'an early arrival', tags: ['ambient'], creator: 'Nova', creatorId: 'c-nova' };
    remote.upsert([early]);
    local.upsert([early]);
    const ready = await remote.ready;
    assert.equal(ready.report.items, s.data.items.length);
    assert.equal(ready.replayed, 1);
    assert.equal(ready.dropped, 0);

    const compare = async (label: string): Promise<void> => {
      let answered = 0;
      for (const q of queries()) {
        const want = local.search(q);
        assert.deepEqual(await remote.searchAsync(q), want, `${label}: ${JSON.stringify(q)}`);
        if (want.itemIds.length > 0) answered++;
      }
      assert.ok(answered >= 35, `${label}: only ${answered} queries found anything`);
      for (const p of ['qu', 'the', s.data.items[3].title.slice(0, 4), 'zzz']) assert.deepEqual(await remote.suggest(p, 8), local.suggest(p, 8), `${label}: suggest ${p}`);
      for (const seeds of [[s.data.items[0].id], s.data.items.slice(5, 9).map((it) => it.id), ['early-item']]) {
        assert.deepEqual(remote.contentNeighbours(seeds, 10), local.contentNeighbours(seeds, 10), `${label}: neighbours of ${seeds.join(',')}`);
      }
    };
    await compare('after build');
    assert.equal((await remote.searchAsync({ q: 'quokka serenade', n: 1 })).itemIds[0], 'early-item');

    // The same writes on both: an upsert, a changed title, a removal, search clicks.
    const changed = { id: s.data.items[1].id, title: 'Marmoset Quintet for Brass', tags: ['jazz'], creatorId: 'c-x' };
    const clicks = [1, 2, 3].map(() => ({ type: 'search-click', itemId: s.data.items[7].id, context: { q: s.data.items[7].title.split(' ')[0] } }));
    for (const ix of [local]) {
      ix.upsert([changed]);
      ix.remove([s.data.items[2].id]);
      ix.onEvents(clicks);
    }
    remote.upsert([changed]);
    remote.remove([s.data.items[2].id]);
    remote.onEvents(clicks);
    await compare('after writes');
    assert.equal((await remote.info()).size, local.size);

    // A filter on the main thread: the worker over-fetches, the main thread keeps the allowed ones.
    const allowed = new Set(s.data.items.filter((_, i) => i % 2 === 0).map((it) => it.id));
    const r = remote.contentNeighbours([s.data.items[0].id], 10, (id) => allowed.has(id));
    assert.ok(r.itemIds.length > 0 && r.itemIds.every((id) => allowed.has(id)));
    assert.equal(remote.contentStats.timedOut, 0);
    // Validation errors keep their type (and so their HTTP status) across the thread boundary.
    await assert.rejects(remote.searchAsync({ q: 'x', n: 0 }), (e: Error & { status?: number }) => e.status === 400);
  } finally {
    remote.terminate();
  }
  assert.equal(remote.alive, false);
  assert.deepEqual(remote.contentNeighbours([s.data.items[0].id], 5), { itemIds: [], scores: [] });
});

test('serve in worker mode: 503 until built, writes during the build kept, deletes, content source, tower swap', async () => {
  const live = new LiveSearch(s.engine);
  const app = buildApp({ engine: s.engine, ingestor: new Ingestor(s.store, live.listeners()), config: s.config, search: live });
  const logs: string[] = [];
  try {
    const early = await app.inject({ url: '/v1/search?q=anything', headers: CLIENT });
    assert.equal(early.statusCode, 503);
    assert.equal(early.headers['retry-after'], '5');
    const building = live.build(s.store, (m) => logs.push(m), { worker: true, tower: { steps: 20, batchSize: 32 }, contentTimeoutMs: 5_000 });
    const during = { id: 'during-worker-build', title: 'Xenon Lantern Rhapsody', creatorId: 'c-new', tags: ['ambient'] };
    assert.equal((await app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: JSON.stringify([during]) })).statusCode, 200);
    const report = await building;
    assert.ok(report && report.items >= s.data.items.length, logs.join(' | '));
    assert.ok(live.worker, 'built in a worker');
    assert.equal(live.get(), undefined, 'no in-process index');
    assert.ok(logs.some((m) => /worker thread/.test(m)), logs.join(' | '));

    const find = async (text: string): Promise<string[]> => {
      const r = await app.inject({ url: `/v1/search?q=${encodeURIComponent(text)}&n=5`, headers: CLIENT });
      assert.equal(r.statusCode, 200);
      return (r.json() as { items: { itemId: string }[] }).items.map((x) => x.itemId);
    };
    assert.equal((await find('xenon lantern rapsody'))[0], 'during-worker-build');
    const sug = await app.inject({ url: '/v1/suggest?q=xeno', headers: CLIENT });
    assert.equal(sug.statusCode, 200);
    assert.equal((sug.json() as { suggestions: { itemId?: string }[] }).suggestions[0].itemId, 'during-worker-build');

    // Cold start through the worker: the new item's similar list holds content neighbours.
    const sim = await app.inject({ url: '/v1/similar/during-worker-build?n=10', headers: CLIENT });
    assert.equal(sim.statusCode, 200);
    const simItems = (sim.json() as { items: { sources: string[] }[] }).items;
    assert.ok(simItems.some((x) => x.sources.includes('content')), JSON.stringify(simItems.slice(0, 3)));

    const tower = await live.towerReady;
    assert.ok(tower && tower.steps === 20, logs.join(' | '));
    assert.equal((await live.worker.info()).towerVersion, 1);
    assert.equal((await find('xenon lantern rhapsody'))[0], 'during-worker-build', 'still found after the tower swap');

    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/items/during-worker-build', headers: ADMIN })).statusCode, 200);
    assert.ok(!(await find('xenon lantern rhapsody')).includes('during-worker-build'));
  } finally {
    live.close();
    await app.close();
  }
  // After close the worker is gone and search answers 503 again.
  assert.equal(live.service(), undefined);
});

test('the worker builds the ANN graph in steps after ready, answering meanwhile, then agrees with the in-process graph', async () => {
  const path = storeFilePath(s.store)!;
  const config = { annThreshold: 50 };
  const { index: local } = await buildSearchIndexFromStore(s.store, { config, train: { steps: 0 } });
  local.warm();
  const remote = new SearchWorkerClient({ storePath: path, config, train: { steps: 0 }, annChunk: 16 }, { contentTimeoutMs: 5_000 });
  try {
    await remote.ready;
    // Answered while the graph is still being built (exact scan; content neighbours stand aside).
    const during = await remote.searchAsync({ q: s.data.items[10].title, n: 5, mode: 'semantic' });
    assert.equal(during.itemIds.length, 5);
    const ann = await remote.annReady;
    assert.equal(ann.size, s.data.items.length);
    assert.ok(ann.seconds > 0);
    let overlap = 0;
    for (const it of s.data.items.slice(0, 10)) {
      const want = local.search({ q: it.title, n: 10, mode: 'semantic' }).itemIds;
      const got = new Set((await remote.searchAsync({ q: it.title, n: 10, mode: 'semantic' })).itemIds);
      overlap += want.filter((id) => got.has(id)).length;
    }
    assert.ok(overlap >= 90, `overlap ${overlap}/100`);
    assert.equal(remote.contentNeighbours([s.data.items[0].id], 10).itemIds.length, 10, 'content neighbours once the graph is built');
  } finally {
    remote.terminate();
  }
});

test('serve picks the worker by catalog size: in process below WORKER_MIN_ITEMS, a worker from it (store file needed)', async () => {
  const engineOf = (items: number) => ({ stats: () => ({ items, users: 0, events: 0, modelVersions: {} }), onItems: () => undefined, onUsers: () => undefined, onEvents: () => undefined }) as unknown as Engine;
  const small = new LiveSearch(engineOf(WORKER_MIN_ITEMS - 1));
  const large = new LiveSearch(engineOf(WORKER_MIN_ITEMS));
  const noFile = new LiveSearch(engineOf(WORKER_MIN_ITEMS));
  try {
    assert.ok(await small.build(s.store, () => undefined, { tower: false }));
    assert.ok(small.get() && !small.worker);
    assert.ok(await large.build(s.store, () => undefined, { tower: false }));
    assert.ok(!large.get() && large.worker?.alive);
    assert.deepEqual(await large.service()!.searchAsync({ q: s.data.items[0].title, n: 3 }), small.get()!.search({ q: s.data.items[0].title, n: 3 }));
    // A store without a file (memory, or any adapter a worker cannot open) stays in process.
    const mem = { scanItems: s.store.scanItems.bind(s.store), scanEvents: s.store.scanEvents.bind(s.store) };
    assert.ok(await noFile.build(mem, () => undefined, { tower: false }));
    assert.ok(noFile.get() && !noFile.worker);
  } finally {
    for (const l of [small, large, noFile]) l.close();
  }
});
