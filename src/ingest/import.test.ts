import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../core/clock.js';
import { ValidationError } from '../core/errors.js';
import { openStore } from '../store/index.js';
import type { Store, StoredEvent } from '../store/types.js';
import { importFile, type ImportProgress } from './import.js';
import { runCaptured } from '../cli/run-captured.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-import-'));
function write(rel: string, content: string | Buffer): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}
async function allEvents(store: Store): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const b of store.scanEvents({ batchSize: 1000 })) out.push(...b);
  return out;
}

test('csv events: batches, coercion, rejected rows with paths, idempotent re-run', async () => {
  const rows = ['userId,itemId,type,value,timestamp'];
  for (let i = 0; i < 23; i++) rows.push(`u${i % 4},i${i},play,${i},${1000 + i}`);
  rows.push('u1,,play,,'); // row 23: empty itemId
  rows.push('u2,i1,like,,'); // row 24: no timestamp, positional id
  const file = write('events.csv', rows.join('\n') + '\n');
  const store = await openStore(':memory:');
  const progress: ImportProgress[] = [];
  const s1 = await importFile(store, file, 'csv', { batchSize: 5, clock: new ManualClock(9_000), onProgress: (p) => progress.push(p) });
  assert.equal(s1.events, 24);
  assert.equal(s1.rejected, 1);
  assert.equal(s1.issues[0].index, 23);
  assert.equal(s1.issues[0].issues[0].path, 'events[23].itemId');
  assert.equal(s1.kind, 'events');
  assert.deepEqual(progress.at(-1), { done: progress.at(-1)!.total, total: progress.at(-1)!.total, unit: 'bytes' });
  const ev = await allEvents(store);
  assert.equal(ev[3].value, 3);
  assert.equal(ev[3].timestamp, 1003);
  assert.equal(ev.at(-1)!.timestamp, 9_000);
  const s2 = await importFile(store, file, 'csv', { batchSize: 5, clock: new ManualClock(99_000) });
  assert.deepEqual([s2.events, s2.duplicates, s2.rejected], [0, 24, 1]);
  assert.equal(await store.countEvents(), 24);
  await store.close();
});

test('csv items and users: tags, attributes.* columns, JSON attributes', async () => {
  const items = write(
    'items.csv',
    'id,title,tags,creatorId,attributes.year,available,createdAt\n' +
      'a,"Song, A",rock|indie,c1,1999,true,5\n' +
      'b,B,,c2,,0,\n',
  );
  const users = write('users.csv', 'id,attributes\nu1,"{""age"":30}"\nu2,\n');
  const store = await openStore(':memory:');
  const si = await importFile(store, items, 'csv', { kind: 'items', clock: new ManualClock(77) });
  assert.equal(si.items, 2);
  const a = await store.getItem('a');
  assert.deepEqual([a?.title, a?.tags, a?.attributes, a?.creatorId, a?.createdAt], ['Song, A', ['rock', 'indie'], { year: 1999 }, 'c1', 5]);
  const b = await store.getItem('b');
  assert.deepEqual([b?.available, b?.createdAt, b?.tags], [false, 77, []]);
  const su = await importFile(store, users, 'csv', { kind: 'users' });
  assert.equal(su.users, 2);
  assert.deepEqual((await store.getUser('u1'))?.attributes, { age: 30 });
  await store.close();
});

test('jsonl events and items: bad JSON and schema errors are rejected, the rest stored', async () => {
  const file = write(
    'e.jsonl',
    [
      '{"id":"e1","userId":"u","itemId":"a","type":"play","timestamp":"2024-01-01T00:00:00Z"}',
      '{not json',
      '{"userId":"u","itemId":"b","type":"play","bogus":1}',
      '',
      '{"userId":"u","itemId":"c","type":"save"}',
    ].join('\n'),
  );
  const store = await openStore(':memory:');
  const s = await importFile(store, file, 'jsonl');
  assert.equal(s.events, 2);
  assert.equal(s.rejected, 2);
  assert.deepEqual(s.issues.map((r) => r.issues[0].path), ['events[1]', 'events[2].bogus']);
  assert.equal((await store.userEvents('u', 10)).length, 2);
  assert.equal((await importFile(store, file, 'jsonl')).duplicates, 2);
  const itemsFile = write('i.jsonl', '{"id":"x","title":"X","tags":["t"]}\n{"id":""}\n');
  const si = await importFile(store, itemsFile, 'jsonl', { kind: 'items' });
  assert.deepEqual([si.items, si.rejected, si.issues[0].issues[0].path], [1, 1, 'items[1].id']);
  await store.close();
});

test('movielens-1m layout: items with genres and year, users, view events with increasing timestamps', async () => {
  write('ml1m/movies.dat', Buffer.from('1::Am\xe9lie (2001)::Comedy|Romance\n2::Heat (1995)::Action\n', 'latin1'));
  write('ml1m/users.dat', '5::F::25::3::12345\n7::M::1::10::54321\n');
  write('ml1m/derived/user_item_chronological.tsv', '5\t2\n5\t1\n7\t1\n');
  const store = await openStore(':memory:');
  const s = await importFile(store, join(dir, 'ml1m'), 'movielens-1m');
  assert.deepEqual([s.items, s.users, s.events, s.rejected], [2, 2, 3, 0]);
  const m = await store.getItem('1');
  assert.deepEqual([m?.title, m?.tags, m?.attributes.year], ['Amélie (2001)', ['Comedy', 'Romance'], 2001]);
  assert.deepEqual((await store.getUser('5'))?.attributes, { gender: 'F', age: 25, occupation: 3, zip: '12345' });
  const ev = await allEvents(store);
  assert.deepEqual(ev.map((e) => [e.userId, e.itemId, e.type]), [['5', '2', 'view'], ['5', '1', 'view'], ['7', '1', 'view']]);
  assert.ok(ev[0].timestamp < ev[1].timestamp && ev[1].timestamp < ev[2].timestamp);
  const again = await importFile(store, join(dir, 'ml1m'), 'movielens-1m');
  assert.deepEqual([again.events, again.duplicates], [0, 3]);
  await store.close();
});

test('movielens-1m GroupLens download as is: ratings.dat rating events in time order, Latin-1 movies, users.dat attributes', async () => {
  write('ml1m-dl/ratings.dat', '5::2::4::978300760\n5::1::5::978300100\n7::1::3::978302000\nbroken line\n7::9::2::978302001\n');
  write('ml1m-dl/movies.dat', Buffer.from('1::Am\xe9lie (2001)::Comedy|Romance\n2::Heat (1995)::Action\n', 'latin1'));
  write('ml1m-dl/users.dat', '5::F::25::3::12345\n7::M::1::10::54321\n');
  const store = await openStore(':memory:');
  const s = await importFile(store, join(dir, 'ml1m-dl'), 'movielens-1m');
  assert.deepEqual([s.items, s.users, s.events, s.rejected, s.itemsCreated], [2, 2, 4, 1, 1], JSON.stringify(s));
  assert.equal(s.issues[0].index, 3, 'the broken line is named by its row');
  const m = await store.getItem('1');
  assert.deepEqual([m?.title, m?.tags, m?.attributes.year], ['Amélie (2001)', ['Comedy', 'Romance'], 2001]);
  assert.equal((await store.getItem('9'))?.title, '', 'movie 9 is not in movies.dat: created from its rating');
  const u5 = await store.getUser('5');
  assert.deepEqual(u5?.attributes, { gender: 'F', age: 25, occupation: 3, zip: '12345' });
  assert.equal(u5?.createdAt, 978300100_000, 'a user is created at the first rating');
  const ev = await allEvents(store);
  assert.deepEqual(ev.map((e) => [e.userId, e.itemId, e.type, e.value, e.timestamp]), [
    ['5', '1', 'rating', 5, 978300100_000],
    ['5', '2', 'rating', 4, 978300760_000],
    ['7', '1', 'rating', 3, 978302000_000],
    ['7', '9', 'rating', 2, 978302001_000],
  ]);
  const again = await importFile(store, join(dir, 'ml1m-dl'), 'movielens-1m');
  assert.deepEqual([again.events, again.duplicates], [0, 4]);
  await store.close();

  // `tastemaker import ratings.dat --format movielens-1m` (the file, not the directory) stores every row.
  const fileRun = await runCaptured(['import', join(dir, 'ml1m-dl/ratings.dat'), '--db', join(dir, 'ratings-file.db'), '--format', 'movielens-1m', '--json']);
  assert.equal(fileRun.code, 0, fileRun.err.join('\n'));
  const line = JSON.parse(fileRun.out.at(-1)!) as { events: number; items: number; users: number };
  assert.deepEqual([line.events, line.items, line.users], [4, 2, 2]);
});

test('movielens-100k layout: rating events in time order with values, users created at first rating', async () => {
  const flags = (on: number[]) => Array.from({ length: 19 }, (_, i) => (on.includes(i) ? '1' : '0')).join('|');
  write('ml100k/u.data', '1\t10\t5\t300\n2\t10\t3\t100\n1\t11\t4\t200\n');
  write('ml100k/u.item', `10|Ten (1995)|01-Jan-1995||http://x|${flags([1])}\n11|Eleven (1996)|||http://y|${flags([0])}\n`);
  write('ml100k/u.user', '1|24|M|technician|85711\n2|53|F|other|94043\n');
  const store = await openStore(':memory:');
  const s = await importFile(store, join(dir, 'ml100k'), 'movielens-100k');
  assert.deepEqual([s.items, s.users, s.events], [2, 2, 3]);
  const ev = await allEvents(store);
  assert.deepEqual(ev.map((e) => [e.userId, e.itemId, e.value, e.timestamp]), [
    ['2', '10', 3, 100_000],
    ['1', '11', 4, 200_000],
    ['1', '10', 5, 300_000],
  ]);
  assert.equal((await store.getUser('1'))?.createdAt, 200_000);
  const ten = await store.getItem('10');
  assert.deepEqual([ten?.tags, ten?.createdAt, ten?.attributes.year], [['Action'], Date.UTC(1995, 0, 1), 1995]);
  await store.close();
});

test('lastfm-hetrec layout: plays with weights, tag events, pre-1970 tags rejected, friends skipped', async () => {
  write('fm/artists.dat', 'id\tname\turl\tpictureURL\n100\tA\thttp://a\tp\n101\tB\thttp://b\tp\n');
  write('fm/user_artists.dat', 'userID\tartistID\tweight\r\n1\t100\t5\r\n1\t101\t50\r\n');
  write('fm/tags.dat', 'tagID\ttagValue\r\n1\trock\r\n');
  write('fm/user_taggedartists.dat', 'userID\tartistID\ttagID\tday\tmonth\tyear\r\n1\t100\t1\t2\t3\t2009\r\n1\t101\t1\t1\t1\t1956\r\n');
  write('fm/user_friends.dat', 'userID\tfriendID\r\n1\t2\r\n');
  const store = await openStore(':memory:');
  const s = await importFile(store, join(dir, 'fm'), 'lastfm-hetrec');
  assert.deepEqual([s.items, s.users, s.events, s.rejected], [2, 1, 3, 1]);
  assert.equal(s.issues[0].issues[0].path, 'user_taggedartists[1].timestamp');
  assert.equal(s.skipped.length, 1);
  const ev = await allEvents(store);
  // Untagged 101 first (by weight), then 100 (tagged 2009-03-02), then the tag event.
  assert.deepEqual(ev.map((e) => [e.type, e.itemId, e.value]), [['play', '101', 50], ['play', '100', 5], ['tag', '100', undefined]]);
  assert.equal(ev[2].timestamp, Date.UTC(2009, 2, 2));
  assert.deepEqual(ev[2].context, { tag: 'rock', tagId: 1 });
  assert.deepEqual((await store.getItem('100'))?.tags, ['rock']);
  await store.close();
});

test('bad options name the option', async () => {
  const store = await openStore(':memory:');
  const f = write('x.csv', 'userId,itemId\n');
  await assert.rejects(importFile(store, f, 'xml' as 'csv'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'format');
  await assert.rejects(importFile(store, f, 'csv', { kind: 'things' as 'items' }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'kind');
  await assert.rejects(importFile(store, f, 'sasrec', { kind: 'items' }), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'kind');
  await assert.rejects(importFile(store, join(dir, 'nope.csv'), 'csv'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'path');
  await store.close();
});

test('CLI: tastemaker import prints the JSON summary last; bad format exits 2', async () => {
  const file = write('cli.txt', '1 a\n1 b\n2 a\n');
  const db = join(dir, 'cli.db');
  const first = await runCaptured(['import', file, '--db', db, '--format', 'sasrec']);
  assert.equal(first.code, 0, first.err.join('\n'));
  const summary = JSON.parse(first.out.at(-1)!) as Record<string, unknown>;
  assert.equal(summary.events, 3);
  assert.equal(summary.format, 'sasrec');
  for (const k of ['file', 'items', 'users', 'duplicates', 'rejected', 'seconds', 'eventsPerSec']) assert.ok(k in summary, k);
  assert.ok(first.out.length > 1, 'human summary above the JSON line');
  const again = await runCaptured(['import', file, '--db', db, '--format', 'sasrec', '--json']);
  assert.equal(again.code, 0);
  assert.equal(again.out.length, 1);
  assert.equal((JSON.parse(again.out[0]) as { duplicates: number }).duplicates, 3);
  const badFormat = await runCaptured(['import', file, '--db', db, '--format', 'parquet']);
  assert.equal(badFormat.code, 2);
  assert.ok(badFormat.err.some((l) => l.includes('--format')), badFormat.err.join('\n'));
  const noDb = await runCaptured(['import', file, '--format', 'sasrec']);
  assert.equal(noDb.code, 2);
  assert.ok(noDb.err.some((l) => l.includes('--db')), noDb.err.join('\n'));
  const store = await openStore(db);
  assert.equal(await store.countEvents(), 3);
  await store.close();
});

test('CLI: an import whose every row is rejected prints the counts and exits non-zero', async () => {
  const file = write('all-bad.csv', 'userId,itemId,type\nu1,,play\nu2,,play\n');
  const partly = write('partly-bad.csv', 'userId,itemId,type\nu1,,play\nu2,i2,play\n');
  const db = join(dir, 'all-bad.db');
  const bad = await runCaptured(['import', file, '--db', db, '--format', 'csv']);
  assert.equal(bad.code, 2);
  assert.ok(bad.out.some((l) => /rejected 2 rows/.test(l)), bad.out.join('\n'));
  assert.deepEqual((JSON.parse(bad.out.at(-1)!) as { rejected: number; events: number }).rejected, 2);
  assert.ok(bad.err.some((l) => /every row was rejected/.test(l)), bad.err.join('\n'));
  assert.equal((await runCaptured(['import', partly, '--db', db, '--format', 'csv', '--json'])).code, 0, 'some rows stored: success');
});
