import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { DEFAULT_EVENT_WEIGHTS } from './schemas.js';
import { generateSynthetic, syntheticToDataset, type SynthOptions } from './synth.js';

const DAY_MS = 86_400_000;
const base: SynthOptions = { seed: 7, users: 1_000, items: 3_000, creators: 300, days: 30, eventsPerUser: 60, startMs: Date.UTC(2026, 0, 1) };
const data = generateSynthetic(base);

test('same seed gives identical data; another seed differs', () => {
  const again = generateSynthetic(base);
  assert.deepEqual(again.events, data.events);
  assert.deepEqual(again.items, data.items);
  assert.deepEqual(again.users, data.users);
  const other = generateSynthetic({ ...base, seed: 8 });
  assert.notDeepEqual(other.events.slice(0, 100), data.events.slice(0, 100));
});

test('events are chronological, reference existing ids, never precede their item, and use known types', () => {
  const items = new Map(data.items.map((i) => [i.id, i]));
  const users = new Set(data.users.map((u) => u.id));
  const endMs = base.startMs + base.days * DAY_MS + DAY_MS;
  for (let k = 0; k < data.events.length; k++) {
    const e = data.events[k];
    if (k > 0) assert.ok(e.timestamp >= data.events[k - 1].timestamp);
    assert.equal(e.id, `e${k}`);
    const it = items.get(e.itemId);
    assert.ok(it && users.has(e.userId));
    assert.ok(e.timestamp >= it.createdAt && e.timestamp >= base.startMs && e.timestamp < endMs);
    assert.ok(e.type in DEFAULT_EVENT_WEIGHTS, e.type);
    assert.ok(e.sessionId);
  }
  const mean = data.events.length / base.users;
  assert.ok(mean > 45 && mean < 80, `mean events per user ${mean}`);
});

test('popularity is heavy-tailed: the top 10% of items get over a third of the plays', () => {
  const counts = new Map<string, number>();
  for (const e of data.events) if (e.type === 'play') counts.set(e.itemId, (counts.get(e.itemId) ?? 0) + 1);
  const sorted = [...counts.values()].sort((a, b) => b - a);
  const total = sorted.reduce((a, b) => a + b, 0);
  const head = sorted.slice(0, Math.ceil(base.items * 0.1)).reduce((a, b) => a + b, 0);
  assert.ok(head / total > 0.35, `head share ${head / total}`);
  assert.ok(sorted[0] > 20 * sorted[Math.floor(sorted.length / 2)], 'top item far above the median');
});

test('catalog: creators own several items, tags drive text, part of the catalog arrives during the period', () => {
  const perCreator = new Map<string, number>();
  for (const i of data.items) perCreator.set(i.creatorId!, (perCreator.get(i.creatorId!) ?? 0) + 1);
  assert.equal(perCreator.size, base.creators);
  assert.ok(Math.max(...perCreator.values()) >= 20);
  const late = data.items.filter((i) => i.createdAt > base.startMs);
  assert.ok(late.length > 0.2 * base.items && late.length < 0.4 * base.items);
  const lateIds = new Set(late.map((i) => i.id));
  assert.ok(data.events.some((e) => lateIds.has(e.itemId)), 'fresh items get events');
  for (const i of data.items.slice(0, 50)) {
    assert.ok(i.tags.length >= 2 && i.text.includes(i.tags[0]), `${i.id} text mentions its genre`);
  }
  assert.ok(data.items.some((i) => !i.available) && data.items.some((i) => i.expiresAt !== undefined));
});

test('sessions are bursts of several events by one user', () => {
  const sessions = new Map<string, { user: string; n: number; first: number; last: number }>();
  for (const e of data.events) {
    const s = sessions.get(e.sessionId!);
    if (!s) sessions.set(e.sessionId!, { user: e.userId, n: 1, first: e.timestamp, last: e.timestamp });
    else {
      assert.equal(s.user, e.userId);
      s.n++;
      s.last = e.timestamp;
    }
  }
  const all = [...sessions.values()];
  const meanEvents = data.events.length / all.length;
  assert.ok(meanEvents > 4, `mean events per session ${meanEvents}`);
  const meanSpanMin = all.reduce((a, s) => a + (s.last - s.first), 0) / all.length / 60_000;
  assert.ok(meanSpanMin > 5 && meanSpanMin < 120, `mean session span ${meanSpanMin} min`);
});

test('skips and dislikes come from taste mismatch; completions from matches', () => {
  const m = data.truth.eventMatch;
  const mean = (type: string): number => {
    let s = 0, n = 0;
    data.events.forEach((e, k) => {
      if (e.type === type) {
        s += m[k];
        n++;
      }
    });
    return s / n;
  };
  assert.ok(mean('skip') + 0.2 < mean('complete'), `skip ${mean('skip')} vs complete ${mean('complete')}`);
  assert.ok(mean('dislike') < mean('skip'));
  assert.ok(mean('like') > mean('play'));
});

test('tastes drift: late positive events lean more towards the drift genre than early ones', () => {
  const drift = generateSynthetic({ ...base, driftPerDay: 0.03 });
  const genreOf = new Map(drift.items.map((i, ix) => [i.id, drift.truth.itemGenre[ix]]));
  const mid = base.startMs + (base.days * DAY_MS) / 2;
  let early = 0, earlyN = 0, late = 0, lateN = 0;
  for (const e of drift.events) {
    if (e.type !== 'play') continue;
    const u = Number(e.userId.slice(1));
    const hit = genreOf.get(e.itemId) === drift.truth.userDriftGenre[u] ? 1 : 0;
    if (e.timestamp < mid) {
      early += hit;
      earlyN++;
    } else {
      late += hit;
      lateN++;
    }
  }
  assert.ok(late / lateN > early / earlyN + 0.05, `early ${early / earlyN} late ${late / lateN}`);
});

test('100k events generate in well under two seconds', () => {
  const t0 = performance.now();
  const big = generateSynthetic({ ...base, seed: 3, users: 2_000, items: 10_000, creators: 1_000, eventsPerUser: 50 });
  const ms = performance.now() - t0;
  assert.ok(big.events.length > 90_000);
  assert.ok(ms < 2_000, `${ms} ms`);
});

test('syntheticToDataset gives per-user positive sequences aligned with timestamps', () => {
  const ds = syntheticToDataset(data);
  assert.equal(ds.seqs.numUsers, base.users);
  assert.equal(ds.seqs.numItems, base.items);
  assert.equal(ds.seqs.offsets[base.users], ds.seqs.items.length);
  assert.equal(ds.timestampsMs!.length, ds.seqs.items.length);
  const plays = data.events.filter((e) => e.type === 'play').length;
  assert.ok(ds.seqs.items.length >= plays * 0.9 && ds.seqs.items.length <= plays * 1.1);
  for (let u = 0; u < 20; u++) {
    for (let k = ds.seqs.offsets[u] + 1; k < ds.seqs.offsets[u + 1]; k++) {
      assert.ok(ds.timestampsMs![k] >= ds.timestampsMs![k - 1]);
      assert.notEqual(ds.seqs.items[k], ds.seqs.items[k - 1]);
    }
  }
});

test('bad options are rejected with the field named', () => {
  assert.throws(() => generateSynthetic({ ...base, users: 0 }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'users');
});

test('generated rows pass the public schemas, even for a tiny world at the epoch', async () => {
  const { ItemInput, UserInput, EventInput } = await import('./schemas.js');
  const tiny = generateSynthetic({ seed: 1, users: 3, items: 2, creators: 5, days: 0.5, eventsPerUser: 5, startMs: 0 });
  for (const rows of [
    [ItemInput, tiny.items],
    [UserInput, tiny.users],
    [EventInput, tiny.events],
    [ItemInput, data.items.slice(0, 200)],
    [EventInput, data.events.slice(0, 200)],
  ] as const) {
    for (const r of rows[1]) assert.ok(rows[0].safeParse(r).success, JSON.stringify(r));
  }
});
