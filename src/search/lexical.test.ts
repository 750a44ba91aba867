import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fold, tokenize } from './text.js';
import { LexicalIndex, boundedOsa, deletions } from './lexical.js';

test('folding removes diacritics and folds case, ß and compatibility forms', () => {
  assert.equal(fold('Beyoncé'), 'beyonce');
  assert.equal(fold('Straße'), 'strasse');
  assert.equal(fold('Ångström ﬁle'), 'angstrom file');
  assert.deepEqual(tokenize("Sigur Rós — Ágætis byrjun, don't"), ['sigur', 'ros', 'agætis', 'byrjun', 'dont']);
});

test('CJK runs become overlapping bigrams; mixed scripts split', () => {
  assert.deepEqual(tokenize('東京事変'), ['東京', '京事', '事変']);
  assert.deepEqual(tokenize('東京2020'), ['東京', '2020']);
  assert.deepEqual(tokenize('猫'), ['猫']);
  const idx = new LexicalIndex();
  idx.add(0, { title: '東京事変 live' });
  idx.add(1, { title: '京都 live' });
  assert.equal(idx.search('東京', 5).ixs[0], 0);
});

test('bounded OSA distance counts transpositions as one edit and stops early', () => {
  assert.equal(boundedOsa('story', 'stroy', 2), 1);
  assert.equal(boundedOsa('kitten', 'sitting', 3), 3);
  assert.equal(boundedOsa('kitten', 'sitting', 1), 2); // capped at max + 1
  assert.equal(boundedOsa('abc', 'abc', 0), 0);
  assert.deepEqual([...deletions('abc', 1)].sort(), ['ab', 'ac', 'bc']);
});

test('BM25F: a title match outranks a text match, and boosts reorder it', () => {
  const docs = [
    { title: 'Quiet evening', text: 'a thunder storm rolls in' },
    { title: 'Thunder road', text: 'a quiet evening drive' },
  ];
  const idx = new LexicalIndex();
  docs.forEach((d, i) => idx.add(i, d));
  const r = idx.search('thunder', 2);
  assert.deepEqual(Array.from(r.ixs), [1, 0]);
  assert.ok(r.scores[0] > r.scores[1]);
  const textFirst = new LexicalIndex({ boosts: { title: 0.1, text: 5, tags: 1, creator: 1 } });
  docs.forEach((d, i) => textFirst.add(i, d));
  assert.deepEqual(Array.from(textFirst.search('thunder', 2).ixs), [0, 1]);
  // Tags and creator are searchable fields too.
  const t = new LexicalIndex();
  t.add(0, { title: 'Untitled', tags: ['shoegaze'] });
  t.add(1, { title: 'Other', creator: 'Slowdive' });
  assert.deepEqual(Array.from(t.search('shoegaze', 5).ixs), [0]);
  assert.deepEqual(Array.from(t.search('slowdive', 5).ixs), [1]);
});

test('typos: one edit for words of 4+ characters, two for 8+; short words are exact', () => {
  const idx = new LexicalIndex();
  idx.add(0, { title: 'Toy Story' });
  idx.add(1, { title: 'Saxophone Colossus' });
  idx.add(2, { title: 'Cat People' });
  idx.add(3, { title: 'Cut Piece' });
  assert.equal(idx.search('toy stroy ', 3).ixs[0], 0); // transposition
  assert.equal(idx.search('saxaphone ', 3).ixs[0], 1); // substitution
  assert.equal(idx.search('saxofone ', 3).ixs[0], 1); // 2 edits on a 9-letter word
  assert.equal(idx.search('colosus ', 3).ixs[0], 1); // deletion
  assert.equal(idx.search('stry ', 3).count, 1); // 4 letters: one edit
  assert.equal(idx.search('sotyr ', 3).count, 0); // 2 edits on a 5-letter word: too far
  assert.equal(idx.search('cot ', 3).count, 0); // 3 letters: no correction
  // An exact match outranks a corrected one.
  assert.deepEqual(Array.from(idx.search('cat ', 3).ixs), [2]);
  assert.deepEqual(idx.typoVariants('peaple').map((v) => v.term), ['people']);
});

test('prefix completion applies to the last word only while it is being typed', () => {
  const idx = new LexicalIndex();
  idx.add(0, { title: 'Saxophone Colossus' });
  idx.add(1, { title: 'Sax and violins' });
  idx.add(2, { title: 'Colossal youth' });
  // While typing, "saxo" completes to "saxophone" (and is one edit from "sax", which ranks lower).
  assert.deepEqual(Array.from(idx.search('saxo', 5).ixs), [0, 1]);
  // A finished word is not completed: only the correction "sax" is left.
  assert.deepEqual(Array.from(idx.search('saxo ', 5).ixs), [1]);
  assert.equal(idx.search('colo', 5).count, 2);
  assert.equal(idx.search('colo youth', 5).ixs[0], 2); // "colo" not last: no prefix, only typo variants
});

test('incremental update and remove change results immediately', () => {
  const idx = new LexicalIndex();
  for (let i = 0; i < 50; i++) idx.add(i, { title: `filler ${i}`, text: 'common words here' });
  idx.add(50, { title: 'Blue Monday' });
  assert.deepEqual(Array.from(idx.search('monday', 5).ixs), [50]);
  idx.add(50, { title: 'Red Tuesday' }); // update in place
  assert.equal(idx.search('monday', 5).count, 0);
  assert.deepEqual(Array.from(idx.search('tuesday', 5).ixs), [50]);
  assert.equal(idx.size, 51);
  for (let i = 0; i < 40; i++) assert.ok(idx.remove(i));
  assert.equal(idx.remove(0), false);
  assert.equal(idx.size, 11);
  const r = idx.search('common', 100);
  assert.equal(r.count, 10);
  assert.ok(Array.from(r.ixs).every((ix) => ix >= 40 && ix < 50));
  idx.add(3, { title: 'filler again', text: 'common' }); // a removed slot is reusable
  assert.equal(idx.search('common', 100).count, 11);
  assert.equal(idx.search('tuesdya', 5).ixs[0], 50);
});

test('filters apply during selection and bad input names the field', () => {
  const idx = new LexicalIndex();
  for (let i = 0; i < 20; i++) idx.add(i, { title: 'night drive', tags: [i % 2 ? 'odd' : 'even'] });
  const r = idx.search('night', 5, (ix) => ix % 2 === 1);
  assert.equal(r.count, 5);
  assert.ok(Array.from(r.ixs).every((ix) => ix % 2 === 1));
  assert.throws(() => idx.search('night', 0), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'n');
  assert.throws(() => new LexicalIndex({ k1: -1 }), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'lexical.k1');
});

test('scores equal a naive BM25F computation (cached field weights stay exact as the corpus grows)', () => {
  const docs = [
    { title: 'red fox', text: 'the quick red fox jumps', tags: ['animal'] },
    { title: 'blue whale', text: 'the red sea is not blue', tags: ['animal', 'sea'] },
    { title: 'red red red', text: '', tags: [] },
  ];
  const idx = new LexicalIndex({ priorWeight: 0 });
  docs.forEach((d, i) => idx.add(i, d));
  idx.add(3, { title: 'late arrival', text: 'a much longer text that shifts the average text length by a lot of words here', tags: [] });
  const boosts = [3, 1, 2, 2];
  const b = [0.6, 0.75, 0.3, 0.3];
  const all = [...docs, { title: 'late arrival', text: 'a much longer text that shifts the average text length by a lot of words here', tags: [] as string[] }];
  const fieldsOf = (d: (typeof all)[number]) => [d.title.split(' ').filter(Boolean), d.text.split(' ').filter(Boolean), d.tags, [] as string[]];
  const avg = [0, 1, 2, 3].map((f) => all.reduce((s, d) => s + fieldsOf(d)[f].length, 0) / all.length || 1);
  const df = all.filter((d) => fieldsOf(d).some((f) => f.includes('red'))).length;
  const idf = Math.log(1 + (all.length - df + 0.5) / (df + 0.5));
  const naive = all.map((d) => {
    const fs = fieldsOf(d);
    let tfw = 0;
    for (let f = 0; f < 4; f++) {
      const tf = fs[f].filter((t) => t === 'red').length;
      if (tf) tfw += (boosts[f] * tf) / (1 - b[f] + (b[f] * fs[f].length) / avg[f]);
    }
    return tfw > 0 ? (idf * tfw) / (1.2 + tfw) : 0;
  });
  const r = idx.search('red ', 10);
  for (let i = 0; i < r.count; i++) assert.ok(Math.abs(r.scores[i] - naive[r.ixs[i]]) < 1e-5, `doc ${r.ixs[i]}: ${r.scores[i]} vs ${naive[r.ixs[i]]}`);
  assert.equal(r.count, 3);
});

test('titleCover is 1 when the query is the title up to a typo, lower for partial matches', () => {
  const idx = new LexicalIndex();
  idx.add(0, { title: 'Toy Story', text: 'toy story toy story' });
  idx.add(1, { title: 'Toy Story of Terror', text: '' });
  idx.add(2, { title: 'Other', text: 'a toy story' });
  const r = idx.search('toy stroy ', 3);
  const cover = new Map(Array.from(r.ixs, (ix, i) => [ix, r.titleCover[i]]));
  assert.equal(cover.get(0), 1);
  assert.equal(cover.get(1), 0.5);
  assert.equal(cover.get(2), 0);
});
