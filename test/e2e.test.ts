/**
 * End-to-end through the HTTP API over the real SQLite store, ingestor and engine: every route, the
 * auth roles, the error shape, the batch contract (accepted / rejected rows by index), idempotent
 * events, cascading user deletes, impressions, real-time updates, /metrics and /openapi.json.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, ADMIN_KEY, CLIENT, CLIENT_KEY, JSON_ADMIN, startStack, type TestStack } from './helpers.js';

interface RecBody {
  requestId: string;
  userId: string;
  surface: string;
  items: { itemId: string; score: number; sources: string[]; explanation?: Record<string, unknown> }[];
  modelVersions: Record<string, string>;
}
interface BatchBody {
  accepted: number;
  duplicates: number;
  rejected: { index: number; issues: { path: string; message: string }[] }[];
}
interface ErrorBody {
  error: string;
  message: string;
  issues?: { path: string; message: string }[];
}

let s: TestStack;
before(async () => {
  s = await startStack();
});
after(async () => {
  await s?.close();
});

function post(url: string, body: unknown, headers: Record<string, string> = JSON_ADMIN) {
  return s.app.inject({ method: 'POST', url, headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });
}
function get(url: string, headers: Record<string, string> = CLIENT) {
  return s.app.inject({ method: 'GET', url, headers });
}

describe('health, metrics, OpenAPI (open routes)', () => {
  test('/healthz reports the catalog counts without a key', async () => {
    const r = await s.app.inject({ url: '/healthz' });
    assert.equal(r.statusCode, 200);
    const body = r.json() as { status: string; items: number; users: number; events: number; modelVersions: Record<string, string> };
    assert.equal(body.status, 'ok');
    assert.equal(body.items, s.data.items.length);
    assert.equal(body.users, s.data.users.length);
    assert.equal(body.events, s.data.events.length);
    assert.equal(body.modelVersions.cooc, 'online');
  });

  test('/openapi.json is an OpenAPI 3.1 document covering every route, with resolvable $refs', async () => {
    const r = await s.app.inject({ url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    const doc = r.json() as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters: { name: string; in: string }[] }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.info.title && doc.info.version);
    const expected: [string, string][] = [
      ['/v1/items', 'post'], ['/v1/users', 'post'], ['/v1/events', 'post'],
      ['/v1/items/{id}', 'get'], ['/v1/items/{id}', 'delete'], ['/v1/users/{id}', 'get'], ['/v1/users/{id}', 'delete'],
      ['/v1/recommend/{userId}', 'get'], ['/v1/similar/{itemId}', 'get'],
      ['/healthz', 'get'], ['/metrics', 'get'], ['/openapi.json', 'get'],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} missing`);
      assert.ok(Object.keys(op.responses).length > 0);
    }
    const rec = doc.paths['/v1/recommend/{userId}'].get;
    assert.deepEqual(
      rec.parameters.map((p) => `${p.in}:${p.name}`).sort(),
      ['path:userId', 'query:diversity', 'query:exclude', 'query:excludeCreators', 'query:excludeItems', 'query:excludeTags', 'query:explain', 'query:n', 'query:sessionId', 'query:surface'],
    );
    assert.ok(doc.components.securitySchemes.bearerAuth && doc.components.securitySchemes.apiKeyHeader);
    // Every $ref points at an existing component.
    const refs = [...r.body.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    assert.ok(refs.length > 10);
    for (const ref of refs) assert.ok(doc.components.schemas[ref], `dangling $ref ${ref}`);
    // The item schema is the zod schema: strict, with the id required.
    const item = doc.components.schemas.ItemBatch as { items: { $ref?: string; additionalProperties?: boolean; required?: string[] } };
    const itemSchema = (item.items.$ref ? doc.components.schemas[item.items.$ref.split('/').pop()!] : item.items) as {
      additionalProperties: boolean;
      required: string[];
    };
    assert.equal(itemSchema.additionalProperties, false);
    assert.deepEqual(itemSchema.required, ['id']);
  });
});

describe('auth', () => {
  test('missing or unknown key → 401, client key on an admin route → 403', async () => {
    const none = await s.app.inject({ url: `/v1/recommend/${s.data.users[0].id}` });
    assert.equal(none.statusCode, 401);
    assert.equal((none.json() as ErrorBody).error, 'unauthorized');
    const wrong = await get(`/v1/recommend/${s.data.users[0].id}`, { authorization: 'Bearer not-a-real-key-000000000' });
    assert.equal(wrong.statusCode, 401);
    const forbidden = await post('/v1/items', [{ id: 'nope' }], { ...CLIENT, 'content-type': 'application/json' });
    assert.equal(forbidden.statusCode, 403);
    assert.equal((forbidden.json() as ErrorBody).error, 'forbidden');
    assert.equal(await s.store.getItem('nope'), undefined);
    const del = await s.app.inject({ method: 'DELETE', url: `/v1/items/${s.data.items[0].id}`, headers: CLIENT });
    assert.equal(del.statusCode, 403);
    // HEAD exists only on the open routes (a HEAD recommend would log an impression).
    assert.equal((await s.app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200);
    assert.equal((await s.app.inject({ method: 'HEAD', url: `/v1/recommend/${s.data.users[0].id}`, headers: CLIENT })).statusCode, 404);
  });

  test('both header forms work and the admin key may read', async () => {
    const u = s.data.users[0].id;
    assert.equal((await get(`/v1/users/${u}`, { authorization: `Bearer ${CLIENT_KEY}` })).statusCode, 200);
    assert.equal((await get(`/v1/users/${u}`, { 'x-api-key': CLIENT_KEY })).statusCode, 200);
    assert.equal((await get(`/v1/users/${u}`, { 'x-api-key': ADMIN_KEY })).statusCode, 200);
    assert.equal((await get(`/v1/users/${u}`, { authorization: `bearer ${ADMIN_KEY}` })).statusCode, 200);
  });
});

describe('catalog writes', () => {
  test('a batch with bad rows stores the good rows and reports each bad one by index and field', async () => {
    const r = await post('/v1/items', [
      { id: 'e2e-a', title: 'Alpha', tags: ['rock'], creatorId: 'c-e2e' },
      { id: '', title: 'empty id' },
      { id: 'e2e-b', title: 'Beta', attributes: { year: 2001 } },
      { id: 'e2e-c', title: 42 },
      { id: 'e2e-d', colour: 'red' },
      'not an object',
    ]);
    assert.equal(r.statusCode, 200);
    const b = r.json() as BatchBody;
    assert.equal(b.accepted, 2);
    assert.deepEqual(b.rejected.map((x) => x.index), [1, 3, 4, 5]);
    const said = b.rejected.map((x) => x.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    assert.match(said[0], /^items\[1\]\.id: /);
    assert.match(said[1], /^items\[3\]\.title: /);
    assert.match(said[2], /^items\[4\].*colour/);
    for (const x of b.rejected) assert.ok(x.issues.every((i) => i.message.length > 0));

    const a = await get('/v1/items/e2e-a');
    assert.equal(a.statusCode, 200);
    const item = a.json() as { id: string; title: string; tags: string[]; creatorId: string; createdAt: number; available: boolean };
    assert.equal(item.title, 'Alpha');
    assert.deepEqual(item.tags, ['rock']);
    assert.equal(item.creatorId, 'c-e2e');
    assert.equal(item.available, true);
    assert.ok(item.createdAt > 0);
    assert.equal((await get('/v1/items/e2e-b')).statusCode, 200);
    assert.equal((await get('/v1/items/e2e-d')).statusCode, 404);
  });

  test('whole-batch problems: not an array → 400, over the batch limit → 413, bad JSON → 400, wrong media type → 415', async () => {
    const notArray = await post('/v1/items', { items: [{ id: 'x' }] });
    assert.equal(notArray.statusCode, 400);
    assert.equal((notArray.json() as ErrorBody).issues?.[0].path, '(body)');
    const tooMany = await post('/v1/events', Array.from({ length: s.config.limits.batchSize + 1 }, () => ({ userId: 'u', itemId: 'i', type: 'play' })));
    assert.equal(tooMany.statusCode, 413);
    assert.equal((tooMany.json() as ErrorBody).error, 'payload_too_large');
    const badJson = await post('/v1/users', '[{"id": "x",]');
    assert.equal(badJson.statusCode, 400);
    assert.match((badJson.json() as ErrorBody).message, /not valid JSON/);
    const badUtf8 = await s.app.inject({ method: 'POST', url: '/v1/users', headers: JSON_ADMIN, payload: Buffer.from([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]) });
    assert.equal(badUtf8.statusCode, 400);
    assert.match((badUtf8.json() as ErrorBody).message, /UTF-8/);
    const text = await post('/v1/users', '[]', { ...ADMIN, 'content-type': 'text/plain' });
    assert.equal(text.statusCode, 415);
    const huge = await post('/v1/items', JSON.stringify([{ id: 'big', text: 'x'.repeat(s.config.limits.bodyLimitBytes) }]));
    assert.equal(huge.statusCode, 413);
    assert.equal(await s.store.getItem('big'), undefined);
  });

  test('users: upsert, read, 404 for unknown ids', async () => {
    const r = await post('/v1/users', [{ id: 'e2e-user', attributes: { country: 'SE' } }, { id: 'bad', attributes: { '': 1 } }]);
    const b = r.json() as BatchBody;
    assert.equal(b.accepted, 1);
    assert.deepEqual(b.rejected.map((x) => x.index), [1]);
    const u = await get('/v1/users/e2e-user');
    assert.equal(u.statusCode, 200);
    assert.deepEqual((u.json() as { attributes: unknown }).attributes, { country: 'SE' });
    const missing = await get('/v1/users/no-such-user');
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as ErrorBody).error, 'not_found');
  });
});

describe('events', () => {
  test('the same event ids twice are stored once', async () => {
    const user = s.data.users[1].id;
    const events = s.data.items.slice(0, 3).map((it, k) => ({ id: `e2e-ev-${k}`, userId: user, itemId: it.id, type: 'play', timestamp: Date.now() - 1000 + k }));
    const before = await s.store.countEvents();
    const first = (await post('/v1/events', events)).json() as BatchBody;
    assert.deepEqual(first, { accepted: 3, duplicates: 0, rejected: [] });
    const again = (await post('/v1/events', events)).json() as BatchBody;
    assert.deepEqual(again, { accepted: 3, duplicates: 3, rejected: [] });
    assert.equal(await s.store.countEvents(), before + 3);
  });

  test('rejected event rows name the field', async () => {
    const r = await post('/v1/events', [
      { userId: 'u', itemId: 'i', type: 'Play!' },
      { userId: 'u', type: 'play' },
      { userId: 'u', itemId: 'i', type: 'play', value: 'loud' },
    ]);
    const b = r.json() as BatchBody;
    assert.equal(b.accepted, 0);
    assert.deepEqual(b.rejected.map((x) => x.index), [0, 1, 2]);
    assert.match(b.rejected[0].issues[0].path, /type/);
    assert.match(b.rejected[1].issues[0].path, /itemId/);
    assert.match(b.rejected[2].issues[0].path, /value/);
  });

  test('deleting a user deletes their events; deleting twice is 404', async () => {
    await post('/v1/users', [{ id: 'e2e-gone' }]);
    await post('/v1/events', s.data.items.slice(0, 5).map((it) => ({ userId: 'e2e-gone', itemId: it.id, type: 'like', timestamp: Date.now() })));
    assert.equal((await s.store.userEvents('e2e-gone', 100)).length, 5);
    const del = await s.app.inject({ method: 'DELETE', url: '/v1/users/e2e-gone', headers: ADMIN });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), { id: 'e2e-gone', deleted: true });
    assert.equal((await s.store.userEvents('e2e-gone', 100)).length, 0);
    assert.equal((await get('/v1/users/e2e-gone')).statusCode, 404);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/v1/users/e2e-gone', headers: ADMIN })).statusCode, 404);
  });

  test('deleting an item removes it from the catalog and from recommendations', async () => {
    await post('/v1/items', [{ id: 'e2e-del-item', title: 'to delete' }]);
    const del = await s.app.inject({ method: 'DELETE', url: '/v1/items/e2e-del-item', headers: ADMIN });
    assert.equal(del.statusCode, 200);
    assert.equal((await get('/v1/items/e2e-del-item')).statusCode, 404);
    const rec = (await get('/v1/recommend/e2e-user?surface=fresh&n=50')).json() as RecBody;
    assert.ok(!rec.items.some((i) => i.itemId === 'e2e-del-item'));
  });
});

describe('recommendations', () => {
  test('n items with a requestId, finite scores and sources; the impression is stored', async () => {
    const user = s.data.users[2].id;
    const r = await get(`/v1/recommend/${user}?n=20`);
    assert.equal(r.statusCode, 200);
    const body = r.json() as RecBody;
    assert.equal(body.userId, user);
    assert.equal(body.surface, 'home');
    assert.equal(body.items.length, 20);
    assert.equal(typeof body.requestId, 'string');
    assert.ok(body.requestId.length > 0);
    assert.equal(new Set(body.items.map((i) => i.itemId)).size, 20, 'no duplicates');
    for (const it of body.items) {
      assert.ok(Number.isFinite(it.score));
      assert.ok(it.sources.length > 0);
    }
    assert.ok(Object.keys(body.modelVersions).length > 0);
    const imp = await s.store.getImpression(body.requestId);
    assert.ok(imp, 'impression stored');
    assert.equal(imp.userId, user);
    assert.equal(imp.surface, 'home');
    assert.deepEqual(imp.itemIds, body.items.map((i) => i.itemId));
    assert.deepEqual(imp.positions, body.items.map((_, k) => k));
  });

  test('every surface answers; exclude and explain are honoured', async () => {
    const user = s.data.users[3].id;
    for (const surface of ['home', 'trending', 'fresh', 'next']) {
      const r = await get(`/v1/recommend/${user}?surface=${surface}&n=5&sessionId=s-e2e`);
      assert.equal(r.statusCode, 200, `${surface}: ${r.body}`);
      const b = r.json() as RecBody;
      assert.equal(b.surface, surface);
      assert.ok(b.items.length > 0 && b.items.length <= 5);
    }
    const first = (await get(`/v1/recommend/${user}?n=10`)).json() as RecBody;
    const excluded = first.items.slice(0, 3).map((i) => i.itemId);
    const second = (await get(`/v1/recommend/${user}?n=10&exclude=${excluded.map(encodeURIComponent).join(',')}&explain=true`)).json() as RecBody;
    assert.equal(second.items.length, 10);
    for (const id of excluded) assert.ok(!second.items.some((i) => i.itemId === id), `${id} excluded`);
    assert.ok(second.items.every((i) => i.explanation && typeof i.explanation === 'object'));
  });

  test('bad query values are 400 naming the field', async () => {
    const user = s.data.users[0].id;
    for (const n of ['0', '-1', '501', '1.5', 'ten', '']) {
      const r = await get(`/v1/recommend/${user}?n=${n}`);
      assert.equal(r.statusCode, 400, `n=${n}`);
      assert.deepEqual((r.json() as ErrorBody).issues?.map((i) => i.path), ['n']);
    }
    const surface = await get(`/v1/recommend/${user}?surface=nope`);
    assert.deepEqual((surface.json() as ErrorBody).issues?.map((i) => i.path), ['surface']);
    const unknown = await get(`/v1/recommend/${user}?count=3`);
    assert.deepEqual((unknown.json() as ErrorBody).issues?.map((i) => i.path), ['count']);
    const longId = await get(`/v1/recommend/${'x'.repeat(300)}`);
    assert.deepEqual((longId.json() as ErrorBody).issues?.map((i) => i.path), ['userId']);
    assert.equal((await get(`/v1/similar/${s.data.items[0].id}?n=9999`)).statusCode, 400);
  });

  test('similar items for a catalog item; unknown item → 404', async () => {
    const seed = s.data.items[0].id;
    const r = await get(`/v1/similar/${seed}?n=10`);
    assert.equal(r.statusCode, 200);
    const b = r.json() as RecBody;
    assert.ok(b.items.length > 0 && b.items.length <= 10);
    assert.ok(!b.items.some((i) => i.itemId === seed), 'an item is not similar to itself');
    assert.equal((await get('/v1/similar/no-such-item')).statusCode, 404);
  });

  test('a fresh event is visible to the next call: co-occurrence updates without a restart', async () => {
    const [x, y] = ['e2e-rt-x', 'e2e-rt-y'];
    await post('/v1/items', [{ id: x, title: 'X' }, { id: y, title: 'Y' }]);
    const t = Date.now();
    // Several listeners play X then Y in the same session …
    const events = [];
    for (let k = 0; k < 6; k++) {
      events.push({ userId: `e2e-rt-u${k}`, itemId: x, type: 'complete', sessionId: `e2e-rt-s${k}`, timestamp: t + k * 10 });
      events.push({ userId: `e2e-rt-u${k}`, itemId: y, type: 'complete', sessionId: `e2e-rt-s${k}`, timestamp: t + k * 10 + 5 });
    }
    assert.equal(((await post('/v1/events', events)).json() as BatchBody).accepted, 12);
    // … so Y is now similar to X …
    const sim = (await get(`/v1/similar/${x}?n=10`)).json() as RecBody;
    assert.ok(sim.items.some((i) => i.itemId === y), `Y similar to X: ${JSON.stringify(sim.items.slice(0, 3))}`);
    // … and a new listener who plays X gets Y in the next home feed.
    const user = 'e2e-rt-new';
    await post('/v1/events', [{ userId: user, itemId: x, type: 'complete', timestamp: t + 1_000 }]);
    const rec = (await get(`/v1/recommend/${user}?n=20`)).json() as RecBody;
    const hit = rec.items.find((i) => i.itemId === y);
    assert.ok(hit, `Y recommended after X: ${JSON.stringify(rec.items.slice(0, 5))}`);
    assert.ok(!rec.items.some((i) => i.itemId === x), 'consumed item excluded');
  });
});

describe('real-time trending', () => {
  test('a burst of fresh engagement puts a new item on top of trending at once', async () => {
    const z = 'e2e-hot';
    await post('/v1/items', [{ id: z, title: 'Hot' }]);
    const before = (await get('/v1/recommend/e2e-watcher?surface=trending&n=10')).json() as RecBody;
    assert.ok(!before.items.some((i) => i.itemId === z));
    const now = Date.now();
    const burst = Array.from({ length: 40 }, (_, k) => ({ userId: `e2e-fan-${k}`, itemId: z, type: 'like', timestamp: now + k }));
    assert.equal(((await post('/v1/events', burst)).json() as BatchBody).accepted, 40);
    const after = (await get('/v1/recommend/e2e-watcher?surface=trending&n=10')).json() as RecBody;
    assert.equal(after.items[0]?.itemId, z, JSON.stringify(after.items.slice(0, 3)));
    assert.ok(after.items[0].sources.includes('trending'));
  });
});

describe('metrics', () => {
  test('/metrics exposes the latency histogram by route, ingested events and errors', async () => {
    const r = await s.app.inject({ url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /text\/plain/);
    assert.match(r.body, /# TYPE tastemaker_http_request_duration_seconds histogram/);
    assert.match(r.body, /tastemaker_http_request_duration_seconds_bucket\{le="0\.005",route="\/v1\/recommend\/:userId",method="GET",status_code="200"\} \d+/);
    const ingested = /tastemaker_events_ingested_total (\d+)/.exec(r.body);
    assert.ok(ingested && Number(ingested[1]) > 0);
    assert.match(r.body, /tastemaker_rows_rejected_total\{kind="items"\} [1-9]/);
    assert.match(r.body, /tastemaker_errors_total\{code="unauthorized"\} [1-9]/);
  });
});
