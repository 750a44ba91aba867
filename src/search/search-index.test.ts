import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSynthetic } from '../core/synth.js';
import { SearchIndex } from './search-index.js';
import { LogisticBlend, reciprocalRankFusion, topOfMap } from './fusion.js';
import { ContentEncoder, trainEncoder } from './encoder.js';
import { Suggester } from './suggest.js';

test('RRF matches hand-computed sums and weights', () => {
  const a = { ixs: [1, 2, 3], count: 3 };
  const b = { ixs: [3, 1], count: 2 };
  const m = reciprocalRankFusion([a, b], 60);
  assert.ok(Math.abs(m.get(1)! - (1 / 61 + 1 / 62)) < 1e-12);
  assert.ok(Math.abs(m.get(2)! - 1 / 62) < 1e-12);
  assert.ok(Math.abs(m.get(3)! - (1 / 63 + 1 / 61)) < 1e-12);
  assert.deepEqual(Array.from(topOfMap(m, 2).ixs), [1, 3]);
  const w = reciprocalRankFusion([a, b], 0, [1, 2]);
  assert.ok(Math.abs(w.get(3)! - (1 / 3 + 2 / 1)) < 1e-12);
  assert.throws(() => reciprocalRankFusion([a], 60, [1, 2]), /one weight per list/);
});

test('logistic blend learns which feature separates the classes', () => {
  // Label = feature 1 > 0.5; feature 0 is noise.
  const n = 400;
  const X = new Float64Array(n * 2);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    X[2 * i] = ((i * 7919) % 100) / 100;
    X[2 * i + 1] = ((i * 104729) % 97) / 97;
    y[i] = X[2 * i + 1] > 0.5 ? 1 : 0;
  }
  const m = LogisticBlend.fit(X, y, 2, { iterations: 2000, lr: 2 });
  assert.ok(m.weights[1] > 3 * Math.abs(m.weights[0]), `weights ${Array.from(m.weights)}`);
  assert.ok(m.score([0.5, 0.9]) > 0.8 && m.score([0.5, 0.1]) < 0.2);
});

test('suggest: completions from any word start, ordered by popularity, kinds aggregated', () => {
  const s = new Suggester();
  s.add('title', 'The Matrix', 50, 'm1');
  s.add('title', 'Matilda', 80, 'm2');
  s.add('title', 'Mad Max', 10, 'm3');
  s.add('creator', 'Matt Damon', 30);
  s.add('creator', 'Matt Damon', 30);
  s.add('tag', 'mathcore', 5);
  const r = s.suggest('mat', 10);
  assert.deepEqual(r.map((x) => x.text), ['Matilda', 'Matt Damon', 'The Matrix', 'mathcore']);
  assert.equal(r[1].popularity, 60);
  assert.equal(r[0].itemId, 'm2');
  assert.deepEqual(s.suggest('the ma', 5).map((x) => x.text), ['The Matrix']);
  assert.deepEqual(s.suggest('mátr', 5).map((x) => x.text), ['The Matrix']);
  s.remove('title', 'Matilda', 80, 'm2');
  assert.deepEqual(s.suggest('mat', 2).map((x) => x.text), ['Matt Damon', 'The Matrix']);
  assert.throws(() => s.suggest('mat', 0), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'n');
});

function smallCatalog(): SearchIndex {
  const idx = new SearchIndex();
  idx.upsert([
    { id: 'a', title: 'Blue Train', text: 'hard bop saxophone session', tags: ['jazz'], creator: 'John Coltrane', popularity: 90 },
    { id: 'b', title: 'Giant Steps', text: 'fast changes on the saxophone', tags: ['jazz'], creator: 'John Coltrane', popularity: 70 },
    { id: 'c', title: 'Blue Monday', text: 'synth and drum machine', tags: ['electronic', 'dance'], creator: 'New Order', popularity: 80 },
    { id: 'd', title: 'Kind of Blue', text: 'modal trumpet and saxophone', tags: ['jazz'], creator: 'Miles Davis', popularity: 100 },
    { id: 'e', title: 'Céline', text: 'chanson française', tags: ['chanson'], creator: 'Édith Piaf', popularity: 5, available: true },
    { id: 'f', title: 'Blue Hidden', text: 'unavailable record', tags: ['jazz'], creator: 'Nobody', available: false },
  ]);
  return idx;
}

test('search: diacritic-insensitive, typo-tolerant, filters by tag/creator, never returns unavailable', () => {
  const idx = smallCatalog();
  assert.equal(idx.search({ q: 'celine', mode: 'lexical' }).itemIds[0], 'e');
  assert.equal(idx.search({ q: 'edith piaf' }).itemIds[0], 'e');
  assert.equal(idx.search({ q: 'giant stpes' }).itemIds[0], 'b');
  const blue = idx.search({ q: 'blue', n: 10, mode: 'lexical' });
  assert.ok(!blue.itemIds.includes('f'));
  assert.deepEqual(new Set(blue.itemIds), new Set(['a', 'c', 'd']));
  const jazzBlue = idx.search({ q: 'blue', n: 10, tags: ['JAZZ'], mode: 'rrf' });
  assert.ok(jazzBlue.itemIds.length > 0 && jazzBlue.itemIds.every((id) => ['a', 'b', 'd'].includes(id)));
  const byCreator = idx.search({ q: 'saxophone', n: 10, creator: 'john coltrane' });
  assert.deepEqual(new Set(byCreator.itemIds), new Set(['a', 'b']));
  const r = idx.search({ q: 'blue train', n: 3 });
  assert.equal(r.itemIds[0], 'a');
  assert.equal(r.sources[0], 'lexical+semantic');
  assert.equal(r.scores.length, r.itemIds.length);
  assert.throws(() => idx.search({ q: 'x', n: 0 }), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'n');
});

test('search: updates and removals are visible at once; suggest follows', () => {
  const idx = smallCatalog();
  idx.upsert([{ id: 'c', title: 'Red Monday', text: 'synth', tags: ['electronic'], creator: 'New Order', popularity: 80 }]);
  assert.ok(!idx.search({ q: 'blue', n: 10, mode: 'lexical' }).itemIds.includes('c'));
  assert.equal(idx.search({ q: 'red monday' }).itemIds[0], 'c');
  assert.equal(idx.remove(['a', 'zzz']), 1);
  assert.ok(!idx.search({ q: 'blue train', n: 10 }).itemIds.includes('a'));
  assert.equal(idx.size, 5);
  assert.deepEqual(idx.suggest('blu', 5).map((s) => s.text), ['Kind of Blue']); // 'Blue Hidden' is unavailable
  idx.upsert([{ id: 'g', title: 'Blue in Green', tags: ['jazz'], creator: 'Bill Evans', popularity: 95 }]);
  assert.equal(idx.suggest('blu', 5)[0].text, 'Kind of Blue');
  assert.equal(idx.suggest('blue i', 5)[0].text, 'Blue in Green');
  assert.deepEqual(idx.suggest('joh', 3).map((s) => [s.text, s.kind]), [['John Coltrane', 'creator']]);
});

test('personal re-rank lifts items matching the user history', () => {
  const idx = smallCatalog();
  const base = idx.search({ q: 'blue', n: 3, mode: 'lexical' });
  const personal = idx.search({ q: 'blue', n: 3, mode: 'lexical', userHistory: ['c'] });
  // 'c' (electronic) was not first without history; the same-tag/creator history pushes it up.
  assert.notEqual(base.itemIds[0], 'c');
  assert.equal(personal.itemIds[0], 'c');
});

test('content tower: training on co-consumption lowers the loss and pulls co-consumed items together', () => {
  const data = generateSynthetic({ seed: 3, users: 150, items: 300, creators: 30, days: 5, eventsPerUser: 30, startMs: 0 });
  const docs = data.items.map((it) => ({ title: it.title, text: it.text, tags: it.tags }));
  const enc = new ContentEncoder({ dims: 16, bucketBits: 12 });
  enc.fitIdf(docs);
  const ixOf = new Map(data.items.map((it, i) => [it.id, i]));
  const pairs: number[] = [];
  const lastByUser = new Map<string, number>();
  for (const e of data.events) {
    const ix = ixOf.get(e.itemId)!;
    const prev = lastByUser.get(e.userId);
    if (prev !== undefined && prev !== ix) pairs.push(prev, ix);
    lastByUser.set(e.userId, ix);
  }
  const r = trainEncoder(enc, docs, Int32Array.from(pairs), { steps: 60, batchSize: 64 });
  assert.ok(r.lossEnd < r.lossStart, `loss ${r.lossStart} → ${r.lossEnd}`);
  const E = enc.embedAll(docs);
  const cos = (a: number, b: number): number => {
    let s = 0;
    for (let j = 0; j < 16; j++) s += E[a * 16 + j] * E[b * 16 + j];
    return s;
  };
  let co = 0;
  let rnd = 0;
  const np = Math.min(500, pairs.length / 2);
  for (let k = 0; k < np; k++) {
    co += cos(pairs[2 * k], pairs[2 * k + 1]);
    rnd += cos(pairs[2 * k], (pairs[2 * k + 1] * 7 + 13) % docs.length);
  }
  assert.ok(co / np > rnd / np + 0.05, `co ${co / np} vs random ${rnd / np}`);
});

test('semantic retrieval through the ANN graph agrees with the exact scan', () => {
  const data = generateSynthetic({ seed: 4, users: 10, items: 1500, creators: 50, days: 2, eventsPerUser: 3, startMs: 0 });
  const rows = data.items.map((it) => ({ id: it.id, title: it.title, text: it.text, tags: it.tags }));
  const exact = new SearchIndex({ encoder: { dims: 32, bucketBits: 12 } });
  const ann = new SearchIndex({ encoder: { dims: 32, bucketBits: 12 }, annThreshold: 100 });
  exact.upsert(rows);
  ann.upsert(rows);
  let overlap = 0;
  const qs = ['guitar highway', 'chill ambient', 'jazz saxophone', 'dark metal', 'happy pop'];
  for (const q of qs) {
    const a = exact.search({ q, n: 10, mode: 'semantic' }).itemIds;
    const b = new Set(ann.search({ q, n: 10, mode: 'semantic' }).itemIds);
    overlap += a.filter((id) => b.has(id)).length;
  }
  assert.ok(overlap / (10 * qs.length) >= 0.9, `recall ${overlap / 50}`);
  // Removal reaches the graph too.
  const top = ann.search({ q: 'jazz saxophone', n: 1, mode: 'semantic' }).itemIds[0];
  ann.remove([top]);
  assert.ok(!ann.search({ q: 'jazz saxophone', n: 20, mode: 'semantic' }).itemIds.includes(top));
});

test('a graph built step by step answers exactly meanwhile, keeps writes made during the build, then agrees', () => {
  const data = generateSynthetic({ seed: 4, users: 10, items: 1500, creators: 50, days: 2, eventsPerUser: 3, startMs: 0 });
  const rows = data.items.map((it) => ({ id: it.id, title: it.title, text: it.text, tags: it.tags }));
  const cfg = { encoder: { dims: 32, bucketBits: 12 } };
  const exact = new SearchIndex(cfg);
  const stepped = new SearchIndex({ ...cfg, annThreshold: 100 });
  exact.upsert(rows);
  stepped.upsert(rows);
  const qs = ['guitar highway', 'chill ambient', 'jazz saxophone', 'dark metal', 'happy pop'];
  assert.equal(stepped.annPending, true);
  let steps = 0;
  const early = { id: 'early', title: 'Saxophone Jazz Nocturne', tags: ['jazz'] };
  const late = { id: 'late', title: 'Ambient Chill Glacier', tags: ['ambient'] };
  while (!stepped.buildAnnStep(200)) {
    steps++;
    // Mid-build: the exact scan answers, identical to the index that never builds a graph.
    if (steps === 2) {
      for (const q of qs) assert.deepEqual(stepped.search({ q, n: 10, mode: 'semantic' }), exact.search({ q, n: 10, mode: 'semantic' }));
      // A write below the cursor (replaces a slot the graph holds) and a removal.
      stepped.upsert([{ ...rows[0], title: early.title, tags: early.tags, id: rows[0].id }]);
      exact.upsert([{ ...rows[0], title: early.title, tags: early.tags, id: rows[0].id }]);
      stepped.remove([rows[1].id]);
      exact.remove([rows[1].id]);
    }
    if (steps === 4) {
      stepped.upsert([late]);
      exact.upsert([late]);
    }
  }
  assert.ok(steps >= 6, `${steps} steps of 200 over 1500 items`);
  assert.equal(stepped.annPending, false);
  let overlap = 0;
  for (const q of qs) {
    const a = exact.search({ q, n: 10, mode: 'semantic' }).itemIds;
    const b = new Set(stepped.search({ q, n: 10, mode: 'semantic' }).itemIds);
    overlap += a.filter((id) => b.has(id)).length;
  }
  assert.ok(overlap / (10 * qs.length) >= 0.9, `recall ${overlap / 50}`);
  // The rewritten slot, the removed one and the late item are what the graph holds.
  const near = (q: string): string[] => stepped.search({ q, n: 10, mode: 'semantic' }).itemIds;
  assert.ok(exact.search({ q: early.title, n: 10, mode: 'semantic' }).itemIds.includes(rows[0].id), 'the exact scan finds the rewritten item');
  assert.ok(near(early.title).includes(rows[0].id), `rewritten slot not in the graph: ${near(early.title).join(',')}`);
  assert.ok(near(late.title).includes('late'), `late item not in the graph: ${near(late.title).join(',')}`);
  assert.ok(!stepped.search({ q: rows[1].title, n: 20, mode: 'semantic' }).itemIds.includes(rows[1].id));
});

test('cold start: a just-ingested item with content only is a content neighbour at once', () => {
  const idx = smallCatalog();
  idx.upsert([{ id: 'new', title: 'Saxophone Nights', text: 'hard bop saxophone', tags: ['jazz'], creator: 'Someone New' }]);
  const r = idx.contentNeighbours(['a', 'b'], 3);
  assert.ok(r.itemIds.includes('new'), `got ${r.itemIds}`);
  assert.ok(!r.itemIds.includes('a') && !r.itemIds.includes('b')); // seeds excluded
  const onlyNew = idx.contentNeighbours(['a'], 5, (id) => id === 'new', { contentOnly: true });
  assert.deepEqual(onlyNew.itemIds, ['new']);
  assert.deepEqual(idx.contentNeighbours(['unknown'], 3).itemIds, []);
});

test('search-click feedback lifts the clicked item for that query only, from events too', () => {
  const idx = smallCatalog();
  const before = idx.search({ q: 'blue', n: 3, mode: 'rrf' }).itemIds;
  const target = before[before.length - 1];
  assert.notEqual(before[0], target);
  const n = idx.onEvents([
    { type: 'search-click', itemId: target, context: { q: 'Blue ' } },
    { type: 'search-click', itemId: target, context: { query: 'blue' } },
    { type: 'play', itemId: 'a', context: { q: 'blue' } },
    { type: 'search-click', itemId: 'a' },
  ]);
  assert.equal(n, 2);
  assert.equal(idx.search({ q: 'blue', n: 3, mode: 'rrf' }).itemIds[0], target);
  assert.equal(idx.search({ q: 'blue', n: 3, mode: 'lexical' }).itemIds[0], before[0]); // pure modes unaffected
  assert.deepEqual(idx.search({ q: 'blue train', n: 1 }).itemIds, ['a']); // another query is unaffected
  assert.throws(() => idx.recordClick('blue', 'a', -1), (e: Error & { issues: { path: string }[] }) => e.issues[0].path === 'weight');
});

test('content candidate source proposes a brand-new item to the engine through its own ixs', async () => {
  const { ContentCandidateSource } = await import('./content-source.js');
  const { CandidateBuffer } = await import('../candidates/types.js');
  const idx = smallCatalog();
  idx.upsert([{ id: 'fresh', title: 'Saxophone Colossus', text: 'hard bop saxophone', tags: ['jazz'] }]);
  const engineIds = ['a', 'b', 'c', 'd', 'e', 'fresh'];
  const src = new ContentCandidateSource(idx, (ix) => engineIds[ix], (id) => (engineIds.indexOf(id) >= 0 ? engineIds.indexOf(id) : undefined));
  const out = new CandidateBuffer(3);
  const ctx = {
    nowMs: 0,
    userIx: 0,
    filter: { allows: (ix: number) => ix !== 2 }, // 'c' excluded by the request
    seedItems: Int32Array.from([0]), // the user played 'a'
    seedWeights: Float32Array.from([1]),
    seedCount: 1,
  };
  src.candidates(ctx, 3, out);
  const got = Array.from(out.items.subarray(0, out.count), (ix) => engineIds[ix]);
  assert.ok(got.includes('fresh'), `got ${got}`);
  assert.ok(!got.includes('a') && !got.includes('c'));
  for (let i = 1; i < out.count; i++) assert.ok(out.scores[i - 1] >= out.scores[i]);
});

test('pairwise blend (Newton) ranks by the feature that orders graded relevance; Cholesky solves', async () => {
  const { solveSymmetric } = await import('./fusion.js');
  const x = solveSymmetric(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 1]), 2);
  assert.ok(Math.abs(4 * x[0] + 2 * x[1] - 2) < 1e-12 && Math.abs(2 * x[0] + 3 * x[1] - 1) < 1e-12);
  // Two queries, 30 candidates each: rel grows with feature 0; feature 1 is noise.
  const n = 60;
  const X = new Float64Array(n * 2);
  const rel = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    X[2 * i] = (i % 30) / 30;
    X[2 * i + 1] = ((i * 37) % 11) / 11;
    rel[i] = Math.floor((i % 30) / 10); // 0, 1, 2
  }
  const m = LogisticBlend.fitPairwise(X, rel, Int32Array.from([0, 30, 60]), 2);
  assert.ok(m.weights[0] > 5 * Math.abs(m.weights[1]), `weights ${Array.from(m.weights)}`);
  const ex = LogisticBlend.fitPairwise(X, rel, Int32Array.from([0, 30, 60]), 2, { exclude: [0] });
  assert.equal(ex.weights[0], 0);
});

test('a tower swapped in step by step: the old tower answers until the last step, writes meanwhile get both, result as loadEncoderState', () => {
  const data = generateSynthetic({ seed: 6, users: 40, items: 600, creators: 30, days: 2, eventsPerUser: 10, startMs: 0 });
  const rows = data.items.map((it) => ({ id: it.id, title: it.title, text: it.text, tags: it.tags }));
  const cfg = { encoder: { dims: 32, bucketBits: 12 } };
  const trainer = new SearchIndex(cfg);
  trainer.upsert(rows);
  const seqs = new Map<string, string[]>();
  for (const e of data.events) seqs.set(e.userId, [...(seqs.get(e.userId) ?? []), e.itemId]);
  trainer.trainContent([...seqs.values()], { train: { steps: 30, batchSize: 32 } });
  const state = trainer.encoderState();

  const stepped = new SearchIndex(cfg);
  const whole = new SearchIndex(cfg);
  const untrained = new SearchIndex(cfg);
  for (const ix of [stepped, whole, untrained]) ix.upsert(rows);
  const qs = ['guitar highway', 'chill ambient', 'jazz saxophone'];
  stepped.beginEncoderSwap(state);
  assert.equal(stepped.swapping, true);
  const early = { id: rows[3].id, title: 'Walrus Aria in Chrome', tags: ['jazz'] };
  const late = { id: 'late', title: 'Glacier Hymn for Oboe', tags: ['ambient'] };
  let steps = 0;
  while (!stepped.swapEncoderStep(100)) {
    steps++;
    // Until the last step the old (untrained) tower answers.
    for (const q of qs) assert.deepEqual(stepped.search({ q, n: 5, mode: 'semantic' }).itemIds, untrained.search({ q, n: 5, mode: 'semantic' }).itemIds);
    if (steps === 2) for (const ix of [stepped, whole, untrained]) ix.upsert([early]); // below the cursor
    if (steps === 3) for (const ix of [stepped, whole, untrained]) ix.upsert([late]);
  }
  assert.ok(steps >= 5);
  assert.equal(stepped.swapping, false);
  assert.equal(stepped.towerVersion, 1);
  whole.loadEncoderState(state);
  for (const q of [...qs, early.title, late.title]) {
    assert.deepEqual(stepped.search({ q, n: 10, mode: 'semantic' }), whole.search({ q, n: 10, mode: 'semantic' }), q);
  }
  assert.notDeepEqual(stepped.search({ q: qs[0], n: 10, mode: 'semantic' }).scores, untrained.search({ q: qs[0], n: 10, mode: 'semantic' }).scores);
});
