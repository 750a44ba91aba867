/**
 * Re-ranking through the public doors: the HTTP app (app.inject) over the real engine and a memory store.
 * Every filter (request items/tags/creators, user dislikes and creator blocks), the creator cap, the
 * diversity re-rank (tags and embeddings), freshness, tag rules, de-duplication and explanations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { loadConfig } from '../core/config.js';
import type { Event, Item } from '../core/schemas.js';
import { createEngine, type EngineConfigInput, type OnlineEngine } from '../engine/index.js';
import { Ingestor } from '../ingest/ingestor.js';
import { buildApp, type TastemakerApp } from '../serve/app.js';
import { MemoryStore } from '../store/memory.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const KEY = 'rerank-test-admin-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };

/** 40 items: i0..i19 tagged rock, i20..i39 jazz; creator c(i mod 5); popularity falls with the index. */
function catalog(): Item[] {
  return Array.from({ length: 40 }, (_, i) => ({
    id: `i${i}`,
    creatorId: `c${i % 5}`,
    title: `Title ${i}`,
    text: '',
    tags: i < 20 ? ['rock', 'guitar'] : ['jazz', 'piano'],
    attributes: {},
    createdAt: T0 - 500 * H,
    available: true,
  }));
}

function popularity(): Event[] {
  const out: Event[] = [];
  for (let i = 0; i < 40; i++) for (let k = 0; k < 40 - i; k++) out.push({ id: `p${i}-${k}`, userId: `bg${k}`, itemId: `i${i}`, type: 'play', timestamp: T0 + k * 1000 });
  return out;
}

async function stack(config: EngineConfigInput = {}, items = catalog(), events = popularity()): Promise<{ app: TastemakerApp; engine: OnlineEngine; close: () => Promise<void> }> {
  const store = new MemoryStore();
  await store.upsertItems(items);
  await store.appendEvents(events);
  const engine = (await createEngine(store, { clock: new ManualClock(T0 + 10 * H), config })) as OnlineEngine;
  const app = buildApp({ engine, ingestor: new Ingestor(store, engine), config: loadConfig({ flags: { adminKeys: [KEY], clientKeys: [] } }) });
  await app.ready();
  return {
    app,
    engine,
    close: async () => {
      await app.close();
      await engine.close();
      await store.close();
    },
  };
}

interface Page {
  items: { itemId: string; score: number; sources: string[]; explanation?: Record<string, unknown> }[];
}

async function page(app: TastemakerApp, user: string, query: string): Promise<string[]> {
  return (await pageBody(app, user, query)).items.map((i) => i.itemId);
}

async function pageBody(app: TastemakerApp, user: string, query: string): Promise<Page> {
  const r = await app.inject({ method: 'GET', url: `/v1/recommend/${user}?${query}`, headers: AUTH });
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as Page;
}

const num = (id: string): number => Number(id.slice(1));

test('request filters: excludeItems, excludeTags and excludeCreators hold on every surface and the page stays full', async () => {
  const s = await stack();
  for (const surface of ['home', 'trending', 'fresh', 'next']) {
    const ids = await page(s.app, 'u1', `surface=${surface}&n=10&excludeItems=i0,i1&exclude=i2&excludeCreators=c3&excludeTags=jazz`);
    assert.equal(ids.length, 10, surface);
    for (const id of ids) {
      assert.ok(num(id) > 2, `${surface}: ${id} excluded by id`);
      assert.ok(num(id) % 5 !== 3, `${surface}: ${id} excluded by creator`);
      assert.ok(num(id) < 20, `${surface}: ${id} excluded by tag`);
    }
  }
  const sim = await s.app.inject({ method: 'GET', url: '/v1/recommend/u1?excludeTags=' + Array.from({ length: 101 }, (_, k) => `t${k}`).join(','), headers: AUTH });
  assert.equal(sim.statusCode, 400);
  assert.equal((sim.json() as { issues: { path: string }[] }).issues[0].path, 'excludeTags');
  await s.close();
});

test('user blocks: a dislike removes the item, a block removes the creator at once, a follow lifts the block', async () => {
  const s = await stack();
  const before = await page(s.app, 'me', 'surface=trending&n=5');
  assert.deepEqual(before, ['i0', 'i1', 'i2', 'i3', 'i4']);
  const post = async (events: object[]) => {
    const r = await s.app.inject({ method: 'POST', url: '/v1/events', headers: { ...AUTH, 'content-type': 'application/json' }, payload: events });
    assert.equal(r.statusCode, 200, r.body);
  };
  await post([{ userId: 'me', itemId: 'i0', type: 'dislike', timestamp: T0 + 9 * H }]);
  assert.ok(!(await page(s.app, 'me', 'surface=trending&n=30')).includes('i0'));
  await post([{ userId: 'me', itemId: 'i1', type: 'block', timestamp: T0 + 9 * H + 1 }]); // i1's creator is c1
  const blocked = await page(s.app, 'me', 'surface=trending&n=30');
  assert.equal(blocked.length, 30);
  assert.ok(blocked.every((id) => num(id) % 5 !== 1), `creator c1 blocked: ${blocked}`);
  for (const surface of ['home', 'fresh', 'next']) assert.ok((await page(s.app, 'me', `surface=${surface}&n=30`)).every((id) => num(id) % 5 !== 1), surface);
  assert.ok((await page(s.app, 'other', 'surface=trending&n=10')).includes('i1'), 'blocks are per user');
  await post([{ userId: 'me', itemId: 'i6', type: 'follow', timestamp: T0 + 9 * H + 2 }]);
  const lifted = await page(s.app, 'me', 'surface=trending&n=30');
  assert.ok(lifted.includes('i11') && !lifted.includes('i1'), 'follow lifts the creator block; the blocked item itself stays a hard negative');
  await s.close();
});

test('creator cap: at most k items per creator on a page, hard even when the pool runs short', async () => {
  const s = await stack({ rerank: { creatorCap: 2 } });
  const ids = await page(s.app, 'u', 'surface=trending&n=10');
  assert.equal(ids.length, 10);
  const perCreator = new Map<number, number>();
  for (const id of ids) perCreator.set(num(id) % 5, (perCreator.get(num(id) % 5) ?? 0) + 1);
  assert.deepEqual([...perCreator.values()], [2, 2, 2, 2, 2]);
  assert.deepEqual(ids.slice(0, 5), ['i0', 'i1', 'i2', 'i3', 'i4'], 'best items first');
  // 5 creators × cap 2 = 10: a 12-item page cannot be filled without breaking the cap.
  assert.equal((await page(s.app, 'u', 'surface=trending&n=12')).length, 10);
  await s.close();
});

test('diversity: MMR on tags interleaves genres; lambda 1 keeps the relevance order; scores stay sorted', async () => {
  const plain = await stack();
  const top = await page(plain.app, 'u', 'surface=trending&n=6');
  assert.deepEqual(top, ['i0', 'i1', 'i2', 'i3', 'i4', 'i5'], 'relevance only: all rock');
  await plain.close();
  const s = await stack({ rerank: { lambda: 0.5 } });
  const body = await pageBody(s.app, 'u', 'surface=trending&n=6&explain=true');
  const ids = body.items.map((i) => i.itemId);
  assert.equal(ids[0], 'i0');
  assert.equal(ids[1], 'i20', 'the best jazz item follows the best rock item');
  // Every later candidate shares all tags with one of the two placed items: relevance decides again.
  assert.deepEqual(ids.slice(2), ['i1', 'i2', 'i3', 'i4']);
  for (let k = 1; k < body.items.length; k++) assert.ok(body.items[k].score <= body.items[k - 1].score);
  const rr = body.items[2].explanation?.rerank as { maxSimilarity: number };
  assert.ok(rr.maxSimilarity > 0, 'the third item is penalised by its similarity to the page');
  await s.close();
});

test('diversity per request: ?diversity overrides the configured trade-off both ways; out of range is a 400 naming it', async () => {
  const plain = await stack(); // configured lambda 1: no diversity
  assert.deepEqual(await page(plain.app, 'u', 'surface=trending&n=4'), ['i0', 'i1', 'i2', 'i3']);
  const diverse = await page(plain.app, 'u', 'surface=trending&n=4&diversity=0.5');
  assert.deepEqual(diverse.slice(0, 2), ['i0', 'i20'], 'this request interleaves genres');
  assert.deepEqual(await page(plain.app, 'u', 'surface=trending&n=4'), ['i0', 'i1', 'i2', 'i3'], 'the next request is plain again');
  for (const bad of ['2', '-0.1', 'lots']) {
    const r = await plain.app.inject({ method: 'GET', url: `/v1/recommend/u?surface=trending&diversity=${bad}`, headers: AUTH });
    assert.equal(r.statusCode, 400, r.body);
    assert.ok((r.json() as { issues: { path: string }[] }).issues.some((i) => i.path === 'diversity'), r.body);
  }
  await plain.close();
  const configured = await stack({ rerank: { lambda: 0.5 } });
  assert.deepEqual((await page(configured.app, 'u', 'surface=trending&n=4')).slice(0, 2), ['i0', 'i20']);
  assert.deepEqual(await page(configured.app, 'u', 'surface=trending&n=4&diversity=0'), ['i0', 'i1', 'i2', 'i3'], 'diversity=0 turns it off');
  await configured.close();
});

test('diversity on embeddings when vectors are set (they override tags)', async () => {
  const s = await stack({ rerank: { lambda: 0.5 } });
  // Vectors that split items by parity instead of by tag.
  const rows = 40;
  const data = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) data[i * 2 + (i % 2)] = 1;
  const ids = s.engine.features.catalog.ids;
  s.engine.embeddings = { dim: 2, data, rowOf: (ix) => Number(ids.id(ix).slice(1)) };
  const got = await page(s.app, 'u', 'surface=trending&n=4');
  assert.deepEqual(got.slice(0, 2), ['i0', 'i1'], 'i1 is dissimilar to i0 in embedding space');
  assert.ok(got.every((id) => num(id) < 20), 'tags are ignored when both items have vectors');
  await s.close();
});

test('freshness boost lifts a new, untouched item; tag rules boost and bury', async () => {
  const items = [...catalog(), { ...catalog()[39], id: 'new', title: 'New one', createdAt: T0 + 9 * H }];
  const off = await stack({}, items);
  assert.ok(!(await page(off.app, 'u', 'surface=home&n=5')).includes('new'));
  await off.close();
  const on = await stack({ rerank: { freshnessWeight: 1.5, freshnessHalfLifeMs: 24 * H } }, items);
  const ids = await page(on.app, 'u', 'surface=home&n=5');
  assert.equal(ids[0], 'new', `fresh item lifted: ${ids}`);
  assert.deepEqual(ids.slice(1), ['i0', 'i1', 'i2', 'i3'], 'old items keep their order (their bonus is ~0)');
  await on.close();
  const rules = await stack({ rerank: { tagRules: [{ tag: 'piano', weight: 2 }, { tag: 'guitar', weight: -0.5 }] } });
  const ruled = await page(rules.app, 'u', 'surface=trending&n=25');
  assert.deepEqual(ruled.slice(0, 20).map(num).every((i) => i >= 20), true, 'boosted tag first');
  assert.equal(ruled[20], 'i0', 'buried tag after');
  await rules.close();
});

test('de-duplication: re-uploads (same creator, same normalised title) appear once', async () => {
  const items = catalog();
  items[1] = { ...items[1], creatorId: 'c0', title: '  title   0 ' }; // same work as i0 by c0
  items[2] = { ...items[2], title: 'Title 0' }; // same title, other creator: kept
  const s = await stack({}, items);
  const ids = await page(s.app, 'u', 'surface=trending&n=5');
  assert.deepEqual(ids, ['i0', 'i2', 'i3', 'i4', 'i5']);
  await s.close();
});

test('explain=true: sources, source scores, merge and re-rank components, main features', async () => {
  const s = await stack({ rerank: { freshnessWeight: 0.1 } });
  const body = await pageBody(s.app, 'bg35', 'surface=trending&n=3&explain=true'); // bg35 played i0..i4
  assert.equal(body.items[0].itemId, 'i5');
  const e = body.items[0].explanation as {
    scores: Record<string, number>;
    merged: number;
    rerank: { relevance: number; freshness: number; rules: number; maxSimilarity: number; final: number };
    features: { ageHours: number; trending: number; creatorId: string; tags: string[]; recentCreatorInteractions: number; followsCreator: boolean };
  };
  assert.deepEqual(body.items[0].sources, Object.keys(e.scores));
  assert.ok(e.scores.trending > 0);
  assert.equal(e.rerank.relevance, 1);
  assert.ok(e.rerank.freshness > 0 && e.rerank.freshness < 0.1);
  assert.ok(Math.abs(e.rerank.final - (e.rerank.relevance + e.rerank.freshness + e.rerank.rules)) < 1e-5);
  assert.equal(e.features.ageHours, 510);
  assert.equal(e.features.creatorId, 'c0');
  assert.deepEqual(e.features.tags.sort(), ['guitar', 'rock']);
  assert.ok(e.features.trending > 0);
  assert.equal(e.features.recentCreatorInteractions, 1, 'bg35 played i0 of the same creator c0');
  assert.equal(e.features.followsCreator, false);
  const noExplain = await pageBody(s.app, 'bg35', 'surface=trending&n=3');
  assert.equal(noExplain.items[0].explanation, undefined);
  await s.close();
});
