import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset } from './datasets.js';
import type { InteractionDataset } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-datasets-'));
function write(rel: string, content: string | Buffer): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}
/** Sequences as external ids: userId -> [itemId...]. */
function asLists(ds: InteractionDataset): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let u = 0; u < ds.seqs.numUsers; u++) {
    const items = Array.from(ds.seqs.items.subarray(ds.seqs.offsets[u], ds.seqs.offsets[u + 1]));
    out[ds.userIds[u]] = items.map((i) => ds.itemIds[i]);
  }
  return out;
}

test('sasrec: interleaved users grouped, file order kept, first-appearance ixs', async () => {
  const p = write('a.txt', '1 10\n2 20\n1 30\r\n\n2 10\n1 20\n');
  const ds = await readDataset(p, 'sasrec');
  assert.deepEqual(ds.userIds, ['1', '2']);
  assert.deepEqual(ds.itemIds, ['10', '20', '30']);
  assert.deepEqual(Array.from(ds.seqs.offsets), [0, 3, 5]);
  assert.deepEqual(asLists(ds), { '1': ['10', '30', '20'], '2': ['20', '10'] });
  assert.equal(ds.seqs.numItems, 3);
  assert.equal(ds.name, 'a');
});

test('sasrec: a malformed line is reported with its number', async () => {
  const p = write('bad.txt', '1 10\n1 10 5\n');
  await assert.rejects(readDataset(p, 'sasrec'), (e: unknown) => e instanceof ValidationError && /line 2/.test(e.message));
});

test('seqs: one user per line', async () => {
  const p = write('s.txt', 'u1 a b c\nu2 c d\n');
  const ds = await readDataset(p, 'seqs');
  assert.deepEqual(asLists(ds), { u1: ['a', 'b', 'c'], u2: ['c', 'd'] });
  assert.deepEqual(ds.itemIds, ['a', 'b', 'c', 'd']);
});

test('movielens-1m directory: tsv order, Latin-1 titles, genres as tags', async () => {
  write('ml1m/derived/user_item_chronological.tsv', '5\t2\n5\t1\n7\t1\n');
  write('ml1m/movies.dat', Buffer.from('1::Am\xe9lie (2001)::Comedy|Romance\n2::Heat (1995)::Action\n3::Unused (1990)::Drama\n', 'latin1'));
  const ds = await readDataset(join(dir, 'ml1m'), 'movielens-1m');
  assert.equal(ds.name, 'movielens-1m');
  assert.deepEqual(asLists(ds), { '5': ['2', '1'], '7': ['1'] });
  assert.deepEqual(ds.itemTitles, ['Heat (1995)', 'Amélie (2001)']);
  assert.deepEqual(ds.itemTags, [['Action'], ['Comedy', 'Romance']]);
  const fromFile = await readDataset(join(dir, 'ml1m/derived/user_item_chronological.tsv'), 'movielens-1m');
  assert.deepEqual(fromFile.itemTitles, ds.itemTitles);
});

test('movielens-1m GroupLens download (ratings.dat): per-user time order with file-order ties, real times', async () => {
  // The official ml-1m.zip layout: ratings.dat beside movies.dat (Latin-1) and users.dat, no derived/.
  write('ml1m-official/ratings.dat', '5::2::4::978300760\n5::1::5::978300100\n7::1::3::978302000\n5::3::1::978300100\n');
  write('ml1m-official/movies.dat', Buffer.from('1::Am\xe9lie (2001)::Comedy|Romance\n2::Heat (1995)::Action\n3::Se\xf1or (1990)::Drama\n', 'latin1'));
  write('ml1m-official/users.dat', '5::F::25::3::12345\n7::M::1::10::54321\n');
  const ds = await readDataset(join(dir, 'ml1m-official'), 'movielens-1m');
  assert.deepEqual(asLists(ds), { '5': ['1', '3', '2'], '7': ['1'] });
  assert.deepEqual(Array.from(ds.timestampsMs ?? []), [978300100_000, 978300100_000, 978300760_000, 978302000_000]);
  assert.equal(ds.itemTitles?.[ds.itemIds.indexOf('3')], 'Señor (1990)');
  // The file itself works too, and a bad line names its line number.
  assert.deepEqual(asLists(await readDataset(join(dir, 'ml1m-official/ratings.dat'), 'movielens-1m')), asLists(ds));
  write('ml1m-bad/ratings.dat', '5::2::4::978300760\n5::2::4\n');
  await assert.rejects(readDataset(join(dir, 'ml1m-bad'), 'movielens-1m'), (e: unknown) => e instanceof ValidationError && /line 2/.test(e.message));
  write('ml1m-empty/README', 'no data');
  await assert.rejects(readDataset(join(dir, 'ml1m-empty'), 'movielens-1m'), (e: unknown) => e instanceof ValidationError && /ratings\.dat/.test(e.message));
});

test('movielens-100k: per-user timestamp order with file-order ties, genres from flags', async () => {
  write('ml100k/u.data', '1\t10\t5\t300\n2\t10\t3\t100\n1\t11\t4\t200\n1\t12\t4\t200\n');
  const flags = (on: number[]) => Array.from({ length: 19 }, (_, i) => (on.includes(i) ? '1' : '0')).join('|');
  write('ml100k/u.item', `10|Ten (1995)|01-Jan-1995||http://x|${flags([1, 5])}\n11|Eleven|||http://y|${flags([0])}\n`);
  write('ml100k/u.genre', 'unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren\'s|4\nComedy|5\n\n');
  const ds = await readDataset(join(dir, 'ml100k'), 'movielens-100k');
  assert.deepEqual(asLists(ds), { '1': ['11', '12', '10'], '2': ['10'] });
  assert.deepEqual(Array.from(ds.timestampsMs ?? []), [200_000, 200_000, 300_000, 100_000]);
  assert.deepEqual(ds.itemIds, ['10', '11', '12']);
  assert.deepEqual(ds.itemTags, [['Action', 'Comedy'], ['unknown'], []]);
  assert.equal(ds.itemTitles?.[0], 'Ten (1995)');
});

test('lastfm-hetrec: untagged by weight desc, then tagged by first tag date; top tags', async () => {
  write('fm/user_artists.dat', 'userID\tartistID\tweight\r\n1\t100\t5\r\n1\t101\t50\r\n1\t102\t7\r\n1\t103\t1\r\n2\t100\t9\r\n');
  write(
    'fm/user_taggedartists.dat',
    'userID\tartistID\ttagID\tday\tmonth\tyear\r\n1\t103\t1\t1\t1\t2008\r\n1\t102\t2\t5\t3\t2009\r\n1\t102\t1\t1\t1\t2007\r\n2\t102\t1\t1\t1\t2009\r\n',
  );
  write('fm/tags.dat', Buffer.from('tagID\ttagValue\r\n1\trock\r\n2\tcaf\xe9\r\n', 'latin1'));
  write('fm/artists.dat', 'id\tname\turl\tpictureURL\n100\tA\tu\tp\n102\tC\tu\tp\n');
  const ds = await readDataset(join(dir, 'fm'), 'lastfm-hetrec');
  // user 1: untagged 101 (50), 100 (5); tagged 102 (2007-01-01), 103 (2008-01-01)
  assert.deepEqual(asLists(ds), { '1': ['101', '100', '102', '103'], '2': ['100'] });
  const tagsOf = (id: string) => ds.itemTags?.[ds.itemIds.indexOf(id)];
  assert.deepEqual(tagsOf('102'), ['rock', 'café']);
  assert.equal(ds.itemTitles?.[ds.itemIds.indexOf('100')], 'A');
  assert.equal(ds.timestampsMs, undefined);
});

test('csv and jsonl: timestamps order per user; mixed presence is rejected', async () => {
  const csv = write('e.csv', 'userId,itemId,timestamp\nu,a,30\nu,b,10\nv,a,2024-01-01T00:00:00Z\n');
  const ds = await readDataset(csv, 'csv');
  assert.deepEqual(asLists(ds), { u: ['b', 'a'], v: ['a'] });
  assert.deepEqual(Array.from(ds.timestampsMs ?? []), [10, 30, Date.parse('2024-01-01T00:00:00Z')]);
  const noTs = await readDataset(write('n.csv', 'itemId,userId\nx,u\ny,u\n'), 'csv');
  assert.deepEqual(asLists(noTs), { u: ['x', 'y'] });
  assert.equal(noTs.timestampsMs, undefined);
  const jl = write('e.jsonl', '{"userId":"u","itemId":"a"}\n\n{"userId":7,"itemId":"b"}\n');
  assert.deepEqual(asLists(await readDataset(jl, 'jsonl')), { u: ['a'], '7': ['b'] });
  const mixed = write('m.jsonl', '{"userId":"u","itemId":"a","timestamp":5}\n{"userId":"u","itemId":"b"}\n');
  await assert.rejects(readDataset(mixed, 'jsonl'), ValidationError);
  const missing = write('x.jsonl', '{"userId":"u"}\n');
  await assert.rejects(readDataset(missing, 'jsonl'), (e: unknown) => e instanceof ValidationError && /itemId/.test(e.message));
});

test('unknown format and missing path name the option', async () => {
  await assert.rejects(readDataset(dir, 'nope' as 'csv'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'format');
  await assert.rejects(readDataset(join(dir, 'missing'), 'sasrec'), (e: unknown) => e instanceof ValidationError && e.issues[0].path === 'path');
});
