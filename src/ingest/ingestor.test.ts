import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
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
  const clock = new ManualClock(5_000);
  const rows = [{ userId: 'u', itemId: 'a', type: 'play', timestamp: 100, context: { b: 1, a: 'x' } }];
  const first = validateEvents(rows, clock).valid[0];
  clock.advance(1_000);
  const retry = validateEvents([{ ...rows[0], context: { a: 'x', b: 1 } }], clock).valid[0];
  assert.equal(first.id, retry.id);
  assert.equal(first.timestamp, 100);
  const other = validateEvents([{ ...rows[0], itemId: 'b' }], clock).valid[0];
  assert.notEqual(first.id, other.id);
  const noTs = validateEvents([{ userId: 'u', itemId: 'a', type: 'play' }], clock).valid[0];
  assert.equal(noTs.timestamp, 6_000);
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
  assert.deepEqual(seenItems, [['a']]);
  assert.equal((await store.getItem('a'))?.createdAt, 1_000);
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
