import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import { SearchIndex } from './search-index.js';
import { recentHistory, searchRouteSpecs } from './routes.js';
import type { StoredEvent } from '../store/types.js';

function index(): SearchIndex {
  const idx = new SearchIndex();
  idx.upsert([
    { id: 'a', title: 'Blue Train', tags: ['jazz'], creator: 'John Coltrane', popularity: 9 },
    { id: 'b', title: 'Blue Monday', tags: ['electronic'], creator: 'New Order', popularity: 8 },
    { id: 'c', title: 'Giant Steps', tags: ['jazz'], creator: 'John Coltrane', popularity: 7 },
  ]);
  return idx;
}

const ev = (itemId: string, type: string, seq: number): StoredEvent => ({ id: `e${seq}`, userId: 'u', itemId, type, timestamp: seq, seq });

test('route specs validate the query string and answer search and suggest', async () => {
  const store = { userEvents: async () => [ev('b', 'like', 3), ev('a', 'skip', 2), ev('b', 'play', 1)] };
  const [search, suggest] = searchRouteSpecs(index(), { store, maxN: 50 });
  assert.equal(search.url, '/v1/search');
  assert.equal(suggest.url, '/v1/suggest');
  const call = async (spec: typeof search, raw: Record<string, string>) => {
    const query = (spec.query as z.ZodType).parse(raw);
    return spec.handler({ params: {}, query, body: undefined, request: undefined as never, reply: undefined as never });
  };
  const r = (await call(search, { q: 'blue trian', n: '2' })) as { items: { itemId: string; source: string }[] };
  assert.equal(r.items[0].itemId, 'a');
  assert.equal(r.items.length, 2);
  const f = (await call(search, { q: 'blue', tags: 'electronic' })) as { items: { itemId: string }[] };
  assert.deepEqual(f.items.map((x) => x.itemId), ['b']);
  const s = (await call(suggest, { q: 'joh' })) as { suggestions: { text: string; kind: string }[] };
  assert.deepEqual(s.suggestions.map((x) => [x.text, x.kind]), [['John Coltrane', 'creator']]);
  assert.throws(() => (search.query as z.ZodType).parse({ q: 'x', n: '0' }));
  assert.throws(() => (search.query as z.ZodType).parse({ q: '' }));
  assert.throws(() => (search.query as z.ZodType).parse({ q: 'x', nn: '3' }));
  assert.deepEqual(await recentHistory(store, 'u'), ['b', 'b']); // oldest first, the skip dropped
});

test('GET /v1/search and /v1/suggest through the real app: auth, validation, OpenAPI', async () => {
  const { buildApp } = await import('../serve/app.js');
  const { loadConfig } = await import('../core/config.js');
  const config = loadConfig({ flags: { adminKeys: ['admin-key-0123456789abcdef'], clientKeys: ['client-key-0123456789abcdef'] } });
  const store = { userEvents: async () => [ev('c', 'like', 1)] };
  const engine = { store } as never;
  const ingestor = {} as never;
  const app = buildApp({ engine, ingestor, config, search: index() });
  await app.ready();
  try {
    const auth = { 'x-api-key': 'client-key-0123456789abcdef' };
    const ok = await app.inject({ method: 'GET', url: '/v1/search?q=giant%20stesp&n=3&userId=u', headers: auth });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().items[0].itemId, 'c');
    const sug = await app.inject({ method: 'GET', url: '/v1/suggest?q=blu&n=5', headers: auth });
    assert.deepEqual(sug.json().suggestions.map((s: { text: string }) => s.text), ['Blue Train', 'Blue Monday']);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/search?q=blue' })).statusCode, 401);
    const bad = await app.inject({ method: 'GET', url: '/v1/search?q=blue&n=0', headers: auth });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().issues[0].path, 'n');
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/v1/search'] && doc.paths['/v1/suggest']);
  } finally {
    await app.close();
  }
});
