import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { DEFAULT_INGEST_CONFIG } from '../core/config.js';
import { PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { EventInput, LIMITS } from '../core/schemas.js';
import { openStore } from '../store/index.js';
import type { StoredEvent } from '../store/types.js';
import { Ingestor } from './ingestor.js';
import { validateBatch, validateEvents } from './validate.js';

test('validateBatch reports each bad row with indexed paths and keeps the good ones', () => {
  const rows = [
    { userId: 'u', itemId: 'a', type: 'play' },
    { userId: '', itemId: 'a', type: 'play' },
    { userId: 'u', itemId: 'a', type: 'Play', extra: 1 },
    { userId: 'u', itemId: 'b', type: 'like', value: 2 },
  ];
  const r = validateBatch(EventInput, rows, 'events');
  assert.equal(r.valid.length, 2);
  assert.deepEqual(r.validIndexes, [0, 3]);
  assert.deepEqual(r.rejected.map((x) => x.index), [1, 2]);
  assert.deepEqual(r.rejected[0].issues.map((i) => i.path), ['events[1].userId']);
  const paths = r.rejected[1].issues.map((i) => i.path).sort();
  assert.ok(paths.includes('events[2].type'), paths.join());
  assert.ok(paths.some((p) => p.startsWith('events[2]')));
});

test('validateBatch: index offset, non-array and oversize batches name the field', () => {
  const r = validateBatch(EventInput, [{}], 'events', { indexOffset: 40 });
  assert.ok(r.rejected[0].issues.every((i) => i.path.startsWith('events[40].')));
  assert.throws(() => validateBatch(EventInput, { not: 'an array' }, 'items'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'items');
  const big = new Array(LIMITS.batchSize + 1).fill({});
  assert.throws(() => validateBatch(EventInput, big, 'users'), (e: unknown) => e instanceof PayloadTooLargeError && e.issues[0].path === 'users');
});

test('validateEvents: derived ids are stable across retries when a timestamp is sent', () => {
  const T = Date.UTC(2025, 0, 1); // after the explicit 2024 timestamp below (the future is out of the window)
  const clock = new ManualClock(T);
  const rows = [{ userId: 'u', itemId: 'a', type: 'play', timestamp: 100, context: { b: 1, a: 'x' } }];
  const first = validateEvents(rows, clock).valid[0];
  clock.advance(1_000);
  const retry = validateEvents([{ ...rows[0], context: { a: 'x', b: 1 } }], clock).valid[0];
  assert.equal(first.id, retry.id);
  assert.equal(first.timestamp, 100);
  const other = validateEvents([{ ...rows[0], itemId: 'b' }], clock).valid[0];
  assert.notEqual(first.id, other.id);
  const noTs = validateEvents([{ userId: 'u', itemId: 'a', type: 'play' }], clock).valid[0];
  assert.equal(noTs.timestamp, T + 1_000);
  const explicit = validateEvents([{ id: 'mine', userId: 'u', itemId: 'a', type: 'play', timestamp: '2024-01-01T00:00:00Z' }], clock).valid[0];
  assert.equal(explicit.id, 'mine');
  assert.equal(explicit.timestamp, Date.parse('2024-01-01T00:00:00Z'));
});

test('Ingestor: partial batches store the good rows; listeners see only new events', async () => {
  const store = await openStore(':memory:');
  const seen: StoredEvent[][] = [];
  const seenItems: string[][] = [];
  const ing = new Ingestor(store, { onEvents: (e) => seen.push(e), onItems: (i) => seenItems.push(i.map((x) => x.id)) }, { clock: new ManualClock(1_000) });
  const batch = [
    { userId: 'u', itemId: 'a', type: 'play', timestamp: 1 },
    { userId: 'u', itemId: 'a', type: 'NOPE' },
    { userId: 'u', itemId: 'b', type: 'play', timestamp: 2 },
  ];
  const r1 = await ing.ingestEvents(batch);
  assert.equal(r1.accepted, 2);
  assert.equal(r1.duplicates, 0);
  assert.deepEqual(r1.rejected.map((r) => [r.index, r.issues[0].path]), [[1, 'events[1].type']]);
  const r2 = await ing.ingestEvents(batch);
  assert.deepEqual([r2.accepted, r2.duplicates], [2, 2]);
  assert.equal(seen.length, 1, 'a fully duplicate retry does not call the listener');
  assert.deepEqual(seen[0].map((e) => e.itemId), ['a', 'b']);
  assert.equal(await store.countEvents(), 2);

  const ri = await ing.ingestItems([{ id: 'a', title: 'A', tags: ['x'] }, { id: 'b', tags: 'nope' }]);
  assert.equal(ri.accepted, 1);
  assert.equal(ri.rejected[0].issues[0].path, 'items[1].tags');
  // The events created items a and b (autoInsertItems, createdAt = their first event); the catalog row
  // for a then replaces the minimal one but keeps that createdAt, as any update without createdAt does.
  assert.deepEqual(seenItems, [['a', 'b'], ['a']]);
  assert.deepEqual([(await store.getItem('a'))?.createdAt, (await store.getItem('a'))?.title], [1, 'A']);
  await assert.rejects(ing.ingestUsers('x'), ValidationError);
  await store.close();
});

test('Ingestor: updates without createdAt keep the stored one', async () => {
  const store = await openStore(':memory:');
  const clock = new ManualClock(1_000);
  const ing = new Ingestor(store, {}, { clock });
  await ing.ingestItems([{ id: 'a', title: 'v1' }]);
  await ing.ingestUsers([{ id: 'u', attributes: { age: 3 } }]);
  clock.advance(5_000);
  await ing.ingestItems([{ id: 'a', title: 'v2' }, { id: 'b' }]);
  await ing.ingestUsers([{ id: 'u', attributes: { age: 4 } }]);
  const a = await store.getItem('a');
  assert.deepEqual([a?.title, a?.createdAt], ['v2', 1_000]);
  assert.equal((await store.getItem('b'))?.createdAt, 6_000);
  const u = await store.getUser('u');
  assert.deepEqual([u?.attributes.age, u?.createdAt], [4, 1_000]);
  await ing.ingestItems([{ id: 'a', createdAt: 42 }]);
  assert.equal((await store.getItem('a'))?.createdAt, 42);
  await store.close();
});

test('time window: the injected clock decides; reject names the field, clamp moves the value into the window', async () => {
  const now = Date.UTC(2026, 5, 1);
  const clock = new ManualClock(now);
  const MIN = 60_000;
  const rows = [
    { id: 'ok', userId: 'u', itemId: 'a', type: 'play', timestamp: now + 4 * MIN },
    { id: 'ahead', userId: 'u', itemId: 'a', type: 'play', timestamp: now + 6 * MIN },
    { id: 'ancient', userId: 'u', itemId: 'a', type: 'play', timestamp: '1960-01-01T00:00:00Z' },
    { id: 'max', userId: 'u', itemId: 'a', type: 'play', timestamp: 8.64e15 },
  ];
  const rejected = validateEvents(rows, clock);
  assert.deepEqual(rejected.valid.map((e) => e.id), ['ok']);
  assert.deepEqual(rejected.rejected.map((r) => [r.index, r.issues[0].path]), [[1, 'events[1].timestamp'], [2, 'events[2].timestamp'], [3, 'events[3].timestamp']]);
  // The same rows a moment later (the clock moved): the 6-minute-ahead one fits.
  clock.advance(2 * MIN);
  assert.deepEqual(validateEvents(rows, clock).valid.map((e) => e.id), ['ok', 'ahead']);
  clock.set(now);

  const store = await openStore(':memory:');
  const clamp = new Ingestor(store, {}, { clock, time: { ...DEFAULT_INGEST_CONFIG, timePolicy: 'clamp' } });
  const r = await clamp.ingestEvents(rows);
  assert.deepEqual([r.accepted, r.rejected.length], [4, 0]);
  const stored = new Map((await store.findEvents({ limit: 10 })).map((e) => [e.id, e.timestamp]));
  assert.deepEqual(Object.fromEntries(stored), { ok: now + 4 * MIN, ahead: now, ancient: 0, max: now });
  const items = await clamp.ingestItems([
    { id: 'far', createdAt: 8.64e15, expiresAt: 8.64e15 },
    { id: 'scheduled', createdAt: now + 30 * 86_400_000 },
  ]);
  assert.equal(items.accepted, 2);
  const far = await store.getItem('far');
  assert.deepEqual([far?.createdAt, far?.expiresAt], [now, now + DEFAULT_INGEST_CONFIG.maxExpiresAheadMs]);
  assert.equal((await store.getItem('scheduled'))?.createdAt, now + 30 * 86_400_000, 'a scheduled release within a year is kept');

  const strict = new Ingestor(store, {}, { clock, time: { ...DEFAULT_INGEST_CONFIG, maxItemScheduleAheadMs: 0 } });
  const u = await strict.ingestUsers([{ id: 'later', createdAt: now + 86_400_000 }]);
  assert.deepEqual(u.rejected.map((x) => x.issues[0].path), ['users[0].createdAt']);
  const it = await strict.ingestItems([{ id: 'soon', createdAt: now + 1 }]);
  assert.match(it.rejected[0].issues[0].message, /ingest\.maxItemScheduleAheadMs/);
  await store.close();
});
