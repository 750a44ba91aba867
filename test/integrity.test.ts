/**
 * Data integrity (issue 13) through the HTTP API over the real SQLite store and engine: the accepted
 * time window of timestamps (live and in an old log replayed at start), the admin routes that find and
 * delete events (the online state is rebuilt without a restart), deletion that stays deleted
 * (tombstones), and /healthz counts that are what the store holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/core/config.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine } from '../src/engine/index.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp } from '../src/serve/app.js';
import { openStore } from '../src/store/index.js';
import { ADMIN, ADMIN_KEY, CLIENT, CLIENT_KEY, JSON_ADMIN, startStack, type TestStack } from './helpers.js';

const DAY = 86_400_000;

interface RecBody {
  items: { itemId: string; score: number; sources: string[]; explanation?: { features: Record<string, unknown> } }[];
}
interface BatchBody {
  accepted: number;
  duplicates: number;
  rejected: { index: number; issues: { path: string; message: string }[] }[];
}
interface StoredEventBody {
  id: string;
  userId: string;
  itemId: string;
  timestamp: number;
  seq: number;
}
interface Health {
  items: number;
  users: number;
  events: number;
}

let s: TestStack;
before(async () => {
  s = await startStack({ users: 200, items: 300, eventsPerUser: 25 });
});
after(async () => {
  await s?.close();
});

function post(url: string, body: unknown) {
  return s.app.inject({ method: 'POST', url, headers: JSON_ADMIN, payload: JSON.stringify(body) });
}
async function rec(user: string, surface: string, n = 10): Promise<RecBody> {
  const r = await s.app.inject({ url: `/v1/recommend/${user}?surface=${surface}&n=${n}&explain=true`, headers: CLIENT });
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as RecBody;
}
async function health(): Promise<Health> {
  return (await s.app.inject({ url: '/healthz' })).json() as Health;
}
async function trendingValue(itemId: string): Promise<number> {
  const body = await rec(`probe-${itemId}`, 'trending', 100);
  const hit = body.items.find((i) => i.itemId === itemId);
  return hit ? (hit.explanation!.features.trending as number) : 0;
}

describe('event time policy', () => {
  test('an event dated a week ahead is rejected at its timestamp and does not move trending', async () => {
    const before = (await rec('tp-new', 'trending')).items.map((i) => i.itemId);
    const tail = s.data.items[s.data.items.length - 1].id;
    const r = await post('/v1/events', [
      { userId: 'tp-u', itemId: tail, type: 'play', timestamp: Date.now() + 7 * DAY },
      { userId: 'tp-u', itemId: tail, type: 'play', timestamp: new Date(Date.now() + 3 * 365 * DAY).toISOString() },
      { userId: 'tp-u', itemId: tail, type: 'play', timestamp: '1969-12-31T23:59:59Z' },
      { userId: 'tp-u', itemId: tail, type: 'play', timestamp: Date.now() + 60_000 },
    ]);
    const body = r.json() as BatchBody;
    assert.equal(body.accepted, 1, 'only the event within the 5-minute skew');
    assert.deepEqual(body.rejected.map((x) => x.issues[0].path), ['events[0].timestamp', 'events[1].timestamp', 'events[2].timestamp']);
    assert.match(body.rejected[0].issues[0].message, /ingest\.maxFutureSkewMs/);
    assert.match(body.rejected[2].issues[0].message, /earliest accepted time/);
    assert.deepEqual((await rec('tp-new', 'trending')).items.map((i) => i.itemId).slice(0, 5), before.slice(0, 5));
  });

  test('items: createdAt beyond a year ahead and expiresAt beyond a century are rejected at the field', async () => {
    const r = await post('/v1/items', [
      { id: 'tp-far', title: 'far', createdAt: 8.64e15 },
      { id: 'tp-exp', title: 'exp', expiresAt: 8.64e15 },
      { id: 'tp-scheduled', title: 'next month', createdAt: Date.now() + 30 * DAY },
    ]);
    const body = r.json() as BatchBody;
    assert.equal(body.accepted, 1);
    assert.deepEqual(body.rejected.map((x) => x.issues[0].path), ['items[0].createdAt', 'items[1].expiresAt']);
    const fresh = await rec('tp-new', 'fresh');
    assert.ok(fresh.items.length > 0 && fresh.items.every((i) => i.score > 0 && Number.isFinite(i.score)));
  });
});

describe('a poisoned old log replayed at start', () => {
  test('far-future events and items already in the store do not take over trending, home or fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tastemaker-integrity-'));
    const config = loadConfig({ flags: { dataDir: dir, adminKeys: [ADMIN_KEY], clientKeys: [CLIENT_KEY] } });
    const store = await openStore(config.store);
    try {
      const now = Date.now();
      const data = generateSynthetic({ seed: 11, users: 150, items: 200, creators: 20, days: 20, eventsPerUser: 20, startMs: now - 20 * DAY });
      await store.upsertItems(data.items);
      await store.upsertItems([{ id: 'doomsday', title: 'from the far future', text: '', tags: [], attributes: {}, available: true, createdAt: 8.64e15 }]);
      await store.upsertUsers(data.users);
      await store.appendEvents(data.events);
      const cold = data.items[data.items.length - 1].id;
      // Written straight into the log, as a version without the time window would have stored them.
      await store.appendEvents([
        { id: 'poison-week', userId: 'p', itemId: cold, type: 'play', timestamp: now + 7 * DAY },
        { id: 'poison-years', userId: 'p', itemId: data.items[data.items.length - 2].id, type: 'play', timestamp: now + 3 * 365 * DAY },
        { id: 'poison-max', userId: 'p', itemId: 'doomsday', type: 'like', timestamp: 8.64e15 },
      ]);
      const engine = await createEngine(store, { config: { eventWeights: config.eventWeights } });
      const app = buildApp({ engine, ingestor: new Ingestor(store, engine), config });
      try {
        const get = async (url: string): Promise<RecBody> => (await app.inject({ url, headers: CLIENT })).json() as RecBody;
        const trending = await get('/v1/recommend/newcomer?surface=trending&n=20&explain=true');
        assert.equal(trending.items.length, 20);
        assert.ok(!trending.items.slice(0, 5).some((i) => i.itemId === cold), 'one play from the future does not top trending');
        for (const it of trending.items) {
          assert.ok(it.sources.includes('trending'), `${it.itemId} comes from the trending counters, not the fresh back-fill`);
          const value = it.explanation!.features.trending;
          assert.ok(typeof value === 'number' && value > 0, `trending is a positive number, not null (NaN) or 0: ${String(value)}`);
          assert.ok(Number.isFinite(it.score));
        }
        assert.ok(trending.items[1].score > 0.5, `the old #1 and #2 stay close (got ${trending.items[1].score})`);
        assert.ok((await get('/v1/recommend/newcomer?surface=home&n=20')).items.length === 20, 'home is not emptied');
        const fresh = await get('/v1/recommend/newcomer?surface=fresh&n=20');
        assert.equal(fresh.items.length, 20);
        assert.ok(fresh.items.every((i) => i.score > 0 && Number.isFinite(i.score)), 'fresh scores are positive and finite');
        // The admin tools find the poison by time and remove it for good.
        const found = await app.inject({ url: `/v1/events?fromMs=${now + DAY}&limit=10`, headers: ADMIN });
        assert.deepEqual((found.json() as { events: StoredEventBody[] }).events.map((e) => e.id), ['poison-week', 'poison-years', 'poison-max']);
        const del = await app.inject({ method: 'POST', url: '/v1/events/delete', headers: JSON_ADMIN, payload: JSON.stringify({ fromMs: now + DAY }) });
        assert.equal((del.json() as { deleted: number }).deleted, 3);
      } finally {
        await app.close();
        await engine.close();
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('admin: find and delete events', () => {
  test('GET /v1/events finds by user, item and time, paged by afterSeq', async () => {
    const u = s.data.users[3].id;
    const mine = s.data.events.filter((e) => e.userId === u);
    const page1 = (await s.app.inject({ url: `/v1/events?userId=${u}&limit=3`, headers: ADMIN })).json() as { events: StoredEventBody[]; nextAfterSeq?: number };
    assert.deepEqual(page1.events.map((e) => e.id), mine.slice(0, 3).map((e) => e.id));
    assert.ok(page1.nextAfterSeq !== undefined);
    const page2 = (await s.app.inject({ url: `/v1/events?userId=${u}&limit=1000&afterSeq=${page1.nextAfterSeq}`, headers: ADMIN })).json() as { events: StoredEventBody[]; nextAfterSeq?: number };
    assert.deepEqual(page2.events.map((e) => e.id), mine.slice(3).map((e) => e.id));
    assert.equal(page2.nextAfterSeq, undefined);
    const t = mine[1].timestamp;
    const ranged = (await s.app.inject({ url: `/v1/events?userId=${u}&fromMs=${t}&toMs=${t + 1}`, headers: ADMIN })).json() as { events: StoredEventBody[] };
    assert.ok(ranged.events.every((e) => e.timestamp === t && e.userId === u) && ranged.events.length >= 1);
    assert.equal((await s.app.inject({ url: `/v1/events?userId=${u}`, headers: CLIENT })).statusCode, 403, 'events are admin-only');
    const bad = await s.app.inject({ url: '/v1/events?limit=1e3', headers: ADMIN });
    assert.equal(bad.statusCode, 400);
    assert.equal((bad.json() as { issues: { path: string }[] }).issues[0].path, 'limit');
  });

  test('deleting a burst of plays corrects trending at once; the deleted ids are refused afterwards', async () => {
    const target = s.data.items[s.data.items.length - 3].id;
    const base = await trendingValue(target);
    const burst = Array.from({ length: 40 }, (_, k) => ({ id: `burst-${k}`, userId: 'spammer', itemId: target, type: 'like', timestamp: Date.now() - k }));
    assert.equal(((await post('/v1/events', burst)).json() as BatchBody).accepted, 40);
    assert.equal((await rec('tp-new', 'trending', 1)).items[0].itemId, target, 'the burst tops trending');
    const del = await post('/v1/events/delete', { userId: 'spammer', itemId: target });
    assert.equal(del.statusCode, 200, del.body);
    const body = del.json() as { deleted: number; rebuild: { events: number; ms: number } };
    assert.equal(body.deleted, 40);
    assert.ok(body.rebuild.events > 0 && body.rebuild.ms >= 0);
    assert.ok(Math.abs((await trendingValue(target)) - base) < 1e-6 * Math.max(1, base), 'trending is back to what it was');
    const again = (await post('/v1/events', burst.slice(0, 2))).json() as BatchBody;
    assert.equal(again.accepted, 0);
    assert.deepEqual(again.rejected.map((x) => x.issues[0].path), ['events[0].id', 'events[1].id']);
    // One by id.
    await post('/v1/events', [{ id: 'single-1', userId: 'someone', itemId: target, type: 'play', timestamp: Date.now() }]);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/v1/events/single-1', headers: ADMIN })).statusCode, 200);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/v1/events/single-1', headers: ADMIN })).statusCode, 404);
    const empty = await post('/v1/events/delete', {});
    assert.equal(empty.statusCode, 400, 'an empty selection never deletes the whole log');
  });
});

describe('deletion that stays deleted (GDPR path)', () => {
  test('after DELETE /v1/users/x: events for x are refused, old ids too, its online traces and counts are gone', async () => {
    const x = 'gdpr-x';
    const target = s.data.items[s.data.items.length - 5].id;
    const base = await trendingValue(target);
    const h0 = await health();
    await post('/v1/users', [{ id: x }]);
    const evs = Array.from({ length: 30 }, (_, k) => ({ id: `gdpr-${k}`, userId: x, itemId: target, type: 'like', timestamp: Date.now() - 1_000 + k }));
    assert.equal(((await post('/v1/events', evs)).json() as BatchBody).accepted, 30);
    const h1 = await health();
    assert.deepEqual([h1.users, h1.events], [h0.users + 1, h0.events + 30]);
    assert.ok((await trendingValue(target)) > base);
    const impression = await rec(x, 'home');
    assert.ok(impression.items.length > 0);

    const del = await s.app.inject({ method: 'DELETE', url: `/v1/users/${x}`, headers: ADMIN });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), { id: x, deleted: true });
    const h2 = await health();
    assert.deepEqual([h2.users, h2.events], [h0.users, h0.events], 'counts are what the store holds');
    assert.ok(Math.abs((await trendingValue(target)) - base) < 1e-6 * Math.max(1, base), "the user's likes no longer count in trending");
    assert.equal(((await s.app.inject({ url: `/v1/events?userId=${x}`, headers: ADMIN })).json() as { events: unknown[] }).events.length, 0);

    const resend = (await post('/v1/events', [evs[0], { userId: x, itemId: target, type: 'play' }])).json() as BatchBody;
    assert.equal(resend.accepted, 0);
    assert.equal(resend.duplicates, 0);
    assert.deepEqual(resend.rejected.map((r) => r.issues[0].path), ['events[0].userId', 'events[1].userId']);
    assert.match(resend.rejected[0].issues[0].message, /deleted/);
    assert.equal((await health()).events, h0.events);

    // Re-created explicitly: new events count again, pre-deletion ones stay out.
    await post('/v1/users', [{ id: x }]);
    const after = (await post('/v1/events', [evs[1], { userId: x, itemId: target, type: 'play' }])).json() as BatchBody;
    assert.equal(after.accepted, 1);
    assert.deepEqual(after.rejected.map((r) => r.issues[0].path), ['events[0].timestamp']);
  });

  test('events for a deleted item are refused at itemId until it is upserted again', async () => {
    await post('/v1/items', [{ id: 'gone-item', title: 'gone' }]);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/v1/items/gone-item', headers: ADMIN })).statusCode, 200);
    const r = (await post('/v1/events', [{ userId: 'someone', itemId: 'gone-item', type: 'play' }])).json() as BatchBody;
    assert.deepEqual(r.rejected.map((x) => x.issues[0].path), ['events[0].itemId']);
    await post('/v1/items', [{ id: 'gone-item', title: 'back' }]);
    assert.equal(((await post('/v1/events', [{ userId: 'someone', itemId: 'gone-item', type: 'play' }])).json() as BatchBody).accepted, 1);
  });
});

describe('exact counts', () => {
  test('/healthz counts users in the users table, not every user id seen in an event', async () => {
    const h0 = await health();
    const r = (await post('/v1/events', [{ userId: 'only-in-events', itemId: s.data.items[0].id, type: 'play' }])).json() as BatchBody;
    assert.equal(r.accepted, 1);
    const h1 = await health();
    assert.equal(h1.users, h0.users);
    assert.equal(h1.events, h0.events + 1);
    assert.equal(h1.users, await s.store.countUsers());
    assert.equal(h1.items, await s.store.countItems());
  });
});

describe('OpenAPI', () => {
  test('the admin event routes are documented from their schemas', async () => {
    const doc = (await s.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const [path, method] of [['/v1/events', 'get'], ['/v1/events/{id}', 'delete'], ['/v1/events/delete', 'post']]) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path} missing`);
    }
    assert.deepEqual(
      doc.paths['/v1/events'].get.parameters!.map((p) => `${p.in}:${p.name}`).sort(),
      ['query:afterSeq', 'query:fromMs', 'query:itemId', 'query:limit', 'query:toMs', 'query:userId'],
    );
    assert.ok(doc.components.schemas.EventDeletion && doc.components.schemas.EventsPage && doc.components.schemas.EventsDeleted);
  });
});
