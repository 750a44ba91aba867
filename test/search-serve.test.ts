/**
 * Search as `serve` and `demo` run it: the routes exist from the first request, answer 503 (standard
 * error shape, Retry-After) while the index builds in the background, then find catalog items by a
 * mistyped title, and pick up items ingested after the build (search and the content cold-start path).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo, type DemoHandle } from '../src/cli/commands/demo.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp } from '../src/serve/app.js';
import { LiveSearch } from '../src/serve/live-search.js';
import { ADMIN, CLIENT, JSON_ADMIN, startStack, type TestStack, typo } from './helpers.js';

let s: TestStack;
before(async () => {
  s = await startStack({ users: 150, items: 300, eventsPerUser: 20 });
});
after(async () => {
  await s?.close();
});

test('search routes answer 503 while the index builds, then search, suggest, new items and deletes work', async () => {
  const live = new LiveSearch(s.engine);
  const app = buildApp({ engine: s.engine, ingestor: new Ingestor(s.store, live.listeners()), config: s.config, search: live });
  try {
    const early = await app.inject({ url: '/v1/search?q=anything', headers: CLIENT });
    assert.equal(early.statusCode, 503);
    assert.deepEqual(early.json(), { error: 'unavailable', message: 'search index is building, retry shortly' });
    assert.equal(early.headers['retry-after'], '5');
    assert.equal((await app.inject({ url: '/v1/suggest?q=a', headers: CLIENT })).statusCode, 503);
    // Validation and auth still come first.
    assert.equal((await app.inject({ url: '/v1/search?q=x' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/v1/search?q=x&n=0', headers: CLIENT })).statusCode, 400);
    const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, { get: { responses: Record<string, unknown> } }> };
    assert.ok(doc.paths['/v1/search'].get.responses['503']);

    // An item written while the build runs is replayed onto the built index.
    const during = { id: 'during-build', title: 'Quasar Lullaby Overture', creatorId: 'c-new', tags: ['ambient'] };
    const building = live.build(s.store, () => undefined);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: JSON.stringify([during]) })).statusCode, 200);
    const report = await building;
    assert.ok(report && report.items >= s.data.items.length);

    const counts = new Map<string, number>();
    for (const it of s.data.items) counts.set(it.title, (counts.get(it.title) ?? 0) + 1);
    const target = s.data.items.find((it) => counts.get(it.title) === 1 && it.title.length >= 10)!;
    assert.ok(target, 'an item with a unique title');
    const q = typo(target.title);
    assert.notEqual(q, target.title);
    const r = await app.inject({ url: `/v1/search?q=${encodeURIComponent(q)}&n=10`, headers: CLIENT });
    assert.equal(r.statusCode, 200);
    const ids = (r.json() as { items: { itemId: string }[] }).items.map((x) => x.itemId);
    assert.ok(ids.slice(0, 3).includes(target.id), `${target.id} "${target.title}" not in the top 3 for "${q}": ${ids.join(',')}`);

    const sug = await app.inject({ url: `/v1/suggest?q=${encodeURIComponent(target.title.slice(0, 4))}`, headers: CLIENT });
    assert.equal(sug.statusCode, 200);
    assert.ok((sug.json() as { suggestions: unknown[] }).suggestions.length > 0);

    const find = async (text: string) =>
      ((await app.inject({ url: `/v1/search?q=${encodeURIComponent(text)}&n=3`, headers: CLIENT })).json() as { items: { itemId: string }[] }).items.map((x) => x.itemId);
    assert.equal((await find('quasar lulaby'))[0], 'during-build');

    // A brand-new item after the build: findable by its title, and proposed by the content source.
    const fresh = { ...target, id: 'brand-new-item', title: 'Zephyr Marmalade Nocturne', attributes: {} };
    assert.equal((await app.inject({ method: 'POST', url: '/v1/items', headers: JSON_ADMIN, payload: JSON.stringify([fresh]) })).statusCode, 200);
    const found = await find('zephyr marmalade');
    assert.equal(found[0], 'brand-new-item', `${target.id} ${found.join(',')}`);
    const sim = await app.inject({ url: `/v1/similar/${target.id}?n=50`, headers: CLIENT });
    assert.equal(sim.statusCode, 200);
    const simItems = (sim.json() as { items: { itemId: string; sources: string[] }[] }).items;
    assert.ok(simItems.some((x) => x.sources.includes('content')), 'content source proposes items once the index is ready');
    // Cold start: the new item has no events, yet similar finds its content twin.
    const cold = await app.inject({ url: '/v1/similar/brand-new-item?n=10', headers: CLIENT });
    assert.equal(cold.statusCode, 200);
    const coldItems = (cold.json() as { items: { itemId: string; sources: string[] }[] }).items;
    assert.ok(coldItems.some((x) => x.itemId === target.id && x.sources.includes('content')), JSON.stringify(coldItems.slice(0, 5)));

    // Deletes leave the index.
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/items/brand-new-item', headers: ADMIN })).statusCode, 200);
    assert.ok(!(await find('zephyr marmalade')).includes('brand-new-item'));
  } finally {
    live.close();
    await app.close();
  }
});

test('demo serves recommendations at once and search once the background build ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-search-demo-'));
  let h: DemoHandle | undefined;
  try {
    const t0 = performance.now();
    h = await startDemo({ dataDir: dir, port: 0, users: 150, items: 300, eventsPerUser: 20, seed: 3, env: {}, log: () => undefined, train: false });
    const auth = { authorization: `Bearer ${h.keys.client}` };
    const rec = await fetch(`${h.url}/v1/recommend/${h.dataset.exampleUserId}?n=20`, { headers: auth });
    assert.equal(rec.status, 200);
    assert.equal(((await rec.json()) as { items: unknown[] }).items.length, 20);
    assert.ok(performance.now() - t0 < 15_000);
    const report = await h.searchReady;
    assert.ok(report && report.items === 300);
    const r = await fetch(`${h.url}/v1/search?q=night&n=5`, { headers: auth });
    assert.equal(r.status, 200);
  } finally {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
