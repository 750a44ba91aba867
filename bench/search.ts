/**
 * Search-quality and latency benchmark (issue 8 item 7). Query sets built from the shared datasets:
 *
 *  (a) typo — every ML-1M title (year stripped) with one seeded edit (insert, delete, substitute or
 *      transpose) in a word of ≥ 4 letters (any word when none is that long); hit = the exact movie in
 *      the top 3. Reported for lexical and hybrid.
 *  (b) lastfm — Last.fm HetRec tags as queries. The tagging log is split by *user* (seeded, half/half):
 *      the index half gives each artist its indexed tags (top 10 by count), the judge half gives the
 *      relevance: rel(tag, artist) = min(3, judge users who put that tag on the artist). Queries = tags
 *      with ≥ 10 judged artists; so a query is often *not* among an artist's indexed tags, and finding
 *      those artists needs more than word overlap. Items: all artists (title = name), popularity =
 *      number of listeners; the content tower trains on co-listening (user_artists, per-user order of
 *      the loader) — no tagging data enters it beyond the indexed tags.
 *  (c) ml-genre — ML-1M genre queries: every genre and every genre pair with ≥ 20 movies. 30% of the
 *      movies (seeded) have their genres hidden from the index (missing metadata). rel = 0 unless the
 *      movie has all query genres (full metadata), then 1 + its popularity tercile among the relevant
 *      movies (1..3): a user typing "comedy" wants comedies, good-known ones first. The tower trains on
 *      the ML-1M rating sequences. Mood queries are absent: ML-1M has no mood vocabulary.
 *  Queries of (b) and (c) are split half/half (seeded) into blend-training and test queries; NDCG@10 is
 *  reported on the test half for lexical, semantic, rrf and hybrid (logistic blend fitted on the
 *  training half of the same set).
 *  (d) latency — a 100,000-item synthetic catalog (generateSynthetic), content tower trained briefly on
 *      its events, HNSW built; 1,000 queries mixing typo'd titles, tag + mood words, and half-typed
 *      prefixes; wall time of `search()` per query, single-threaded, p50/p99 per mode, and `suggest()`.
 *
 *   tastemaker bench search --json [--data ../shared/data] [--sets typo,lastfm,ml,latency,coldstart,options] [--seed 1]
 *     [--steps 1500] [--latency-items 100000] [--latency-queries 1000]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Rng, hash32 } from '../src/core/rng.js';
import { generateSynthetic } from '../src/core/synth.js';
import { eachTsvRow, readDataset } from '../src/ingest/datasets.js';
import type { InteractionDataset } from '../src/core/dataset.js';
import { BLEND_FEATURES, LexicalIndex, SearchIndex, type SearchItem, type SearchMode } from '../src/search/index.js';

const MODES: SearchMode[] = ['lexical', 'semantic', 'rrf', 'hybrid'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** One seeded edit in a word of ≥ 4 letters (or any word when none is that long). */
export function injectTypo(s: string, rng: Rng): string {
  const words = s.split(' ');
  const cand: number[] = [];
  words.forEach((w, i) => {
    if (/^[\p{L}\p{N}]{4,}/u.test(w)) cand.push(i);
  });
  const wi = cand.length > 0 ? cand[rng.int(cand.length)] : rng.int(words.length);
  const w = words[wi];
  // Edit inside the word's letters, not its trailing punctuation.
  const m = /^[\p{L}\p{N}]+/u.exec(w);
  const core = m ? m[0] : w;
  const rest = w.slice(core.length);
  let t = core;
  const p = rng.int(Math.max(1, core.length));
  switch (rng.int(4)) {
    case 0:
      t = core.slice(0, p) + LETTERS[rng.int(26)] + core.slice(p);
      break;
    case 1:
      t = core.length > 1 ? core.slice(0, p) + core.slice(p + 1) : core + LETTERS[rng.int(26)];
      break;
    case 2: {
      let c = LETTERS[rng.int(26)];
      if (c === core[p]?.toLowerCase()) c = LETTERS[(LETTERS.indexOf(c) + 1) % 26];
      t = core.slice(0, p) + c + core.slice(p + 1);
      break;
    }
    default: {
      const q = Math.min(p, core.length - 2);
      t = q >= 0 && core[q] !== core[q + 1] ? core.slice(0, q) + core[q + 1] + core[q] + core.slice(q + 2) : core + LETTERS[rng.int(26)];
    }
  }
  words[wi] = t + rest;
  return words.join(' ');
}

/** NDCG@k with graded gains 2^rel − 1. */
export function ndcgAt(ranked: readonly string[], rel: ReadonlyMap<string, number>, k = 10): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) {
    const r = rel.get(ranked[i]) ?? 0;
    if (r > 0) dcg += (2 ** r - 1) / Math.log2(i + 2);
  }
  const ideal = [...rel.values()].filter((r) => r > 0).sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += (2 ** ideal[i] - 1) / Math.log2(i + 2);
  return idcg > 0 ? dcg / idcg : 0;
}

function quantile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function round(x: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

interface JudgedQuery {
  q: string;
  rel: Map<string, number>;
  /** Weight in blend training (known-item queries are down-weighted to balance the query types). */
  weight?: number;
}

function sequencesOf(ds: InteractionDataset): string[][] {
  const out: string[][] = [];
  const { offsets, items } = ds.seqs;
  for (let u = 0; u < ds.seqs.numUsers; u++) {
    const s: string[] = [];
    for (let k = offsets[u]; k < offsets[u + 1]; k++) s.push(ds.itemIds[items[k]]);
    out.push(s);
  }
  return out;
}

function countsOf(ds: InteractionDataset): Map<string, number> {
  const c = new Map<string, number>();
  for (let k = 0; k < ds.seqs.items.length; k++) {
    const id = ds.itemIds[ds.seqs.items[k]];
    c.set(id, (c.get(id) ?? 0) + 1);
  }
  return c;
}

/**
 * Known-item training queries: `count` items' titles with one seeded typo, the item itself relevant
 * (rel 3). A search log mixes such navigational queries with topical ones; without them the blend would
 * learn "popular beats exact title" from topical queries alone. Returns the queries and the items used.
 */
function knownItemQueries(rows: readonly { id: string; title: string }[], count: number, rng: Rng): { queries: JudgedQuery[]; used: Set<string> } {
  const pool = rows.filter((r) => r.title.length > 0).map((r) => r.id);
  rng.shuffle(pool);
  const used = new Set(pool.slice(0, count));
  const queries: JudgedQuery[] = rows.filter((r) => used.has(r.id)).map((r) => ({ q: injectTypo(r.title, rng), rel: new Map([[r.id, 3]]) }));
  return { queries, used };
}

/**
 * Splits judged queries half/half, fits the blend on the first half (plus `extraTrain` known-item
 * queries), scores every mode on the second half.
 */
function evaluate(index: SearchIndex, queries: JudgedQuery[], rng: Rng, extraTrain: JudgedQuery[] = []): Record<string, unknown> {
  rng.shuffle(queries);
  const half = Math.floor(queries.length / 2);
  // The two query types get equal total weight in blend training.
  const topical = queries.slice(0, half);
  const kw = extraTrain.length > 0 ? topical.length / extraTrain.length : 1;
  const train = topical.concat(extraTrain.map((j) => ({ ...j, weight: kw })));
  const test = queries.slice(half);
  const t0 = performance.now();
  const blend = index.fitBlend(train.map((j) => ({ q: j.q, relevant: j.rel, weight: j.weight })));
  const fitSeconds = (performance.now() - t0) / 1000;
  const ndcg: Record<string, number> = {};
  const score = (mode: SearchMode): number => {
    let s = 0;
    for (const j of test) s += ndcgAt(index.search({ q: j.q, n: 10, mode }).itemIds, j.rel, 10);
    return round(s / Math.max(1, test.length));
  };
  for (const mode of MODES) ndcg[mode] = score(mode);
  // Ablation: the same blend without any semantic signal (cosine, RRF, in-both) = lexical + popularity.
  index.fitBlend(
    train.map((j) => ({ q: j.q, relevant: j.rel, weight: j.weight })),
    { exclude: ['cosine', 'rrf', 'both', 'popularity*cosine'] }, // keeps bm25, popularity, titleCover
  );
  ndcg['hybrid-without-semantic'] = score('hybrid');
  index.setBlend(blend);
  return {
    queries: queries.length,
    trainQueries: train.length - extraTrain.length,
    knownItemTrainQueries: extraTrain.length,
    testQueries: test.length,
    'NDCG@10': ndcg,
    blendWeights: Object.fromEntries([...blend.weights].map((w, i) => [BLEND_FEATURES[i], round(w, 3)])),
    blendFitSeconds: round(fitSeconds, 2),
  };
}

async function lastfmSet(dir: string, seed: number, steps: number): Promise<Record<string, unknown>> {
  const ds = await readDataset(dir, 'lastfm-hetrec');
  const tagNames = new Map<string, string>();
  eachTsvRow(await readFile(join(dir, 'tags.dat'), 'latin1'), 'tags.dat', 2, (f) => tagNames.set(f[0], f[1]));
  const indexTags = new Map<string, Map<string, number>>(); // artist → tag → count (index users)
  const judged = new Map<string, Map<string, number>>(); // tag → artist → judge users
  eachTsvRow(await readFile(join(dir, 'user_taggedartists.dat'), 'latin1'), 'user_taggedartists.dat', 3, (f) => {
    const tag = tagNames.get(f[2]);
    if (!tag) return;
    const judge = (hash32(f[0], seed) & 1) === 1;
    if (judge) {
      let m = judged.get(tag);
      if (!m) judged.set(tag, (m = new Map()));
      m.set(f[1], (m.get(f[1]) ?? 0) + 1);
    } else {
      let m = indexTags.get(f[1]);
      if (!m) indexTags.set(f[1], (m = new Map()));
      m.set(tag, (m.get(tag) ?? 0) + 1);
    }
  });
  const names = new Map<string, string>();
  eachTsvRow(await readFile(join(dir, 'artists.dat'), 'utf8'), 'artists.dat', 2, (f) => names.set(f[0], f[1]));
  const listeners = countsOf(ds);
  const rows: SearchItem[] = [];
  for (const [id, name] of names) {
    const tags = [...(indexTags.get(id) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10).map(([t]) => t);
    rows.push({ id, title: name.slice(0, 1000), tags: tags.map((t) => t.slice(0, 100)), popularity: listeners.get(id) ?? 0 });
  }
  const index = new SearchIndex();
  index.upsert(rows);
  const report = index.trainContent(sequencesOf(ds), { train: { steps }, seed });
  const known = knownItemQueries(rows.map((r) => ({ id: r.id, title: r.title ?? '' })), 400, new Rng(seed + 5));
  const queries: JudgedQuery[] = [];
  for (const [tag, m] of [...judged].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const rel = new Map<string, number>();
    for (const [a, c] of m) if (index.ixOf(a) !== undefined) rel.set(a, Math.min(3, c));
    if (rel.size >= 10) queries.push({ q: tag, rel });
  }
  let inIndexText = 0;
  let relTotal = 0;
  for (const j of queries) {
    for (const a of j.rel.keys()) {
      relTotal++;
      if ((indexTags.get(a)?.get(j.q) ?? 0) > 0) inIndexText++;
    }
  }
  return {
    items: index.size,
    ...evaluate(index, queries, new Rng(seed + 1), known.queries),
    relevantWithQueryTagIndexed: round(inIndexText / Math.max(1, relTotal), 3),
    tower: { lossStart: round(report.lossStart), lossEnd: round(report.lossEnd), seconds: round(report.seconds, 1) },
  };
}

function mlTitle(title: string): { name: string; year: string } {
  const m = /^(.*?)\s*\((\d{4})\)\s*$/.exec(title);
  return m ? { name: m[1], year: m[2] } : { name: title, year: '' };
}

async function mlSets(dir: string, seed: number, steps: number, sets: Set<string>): Promise<Record<string, unknown>> {
  const ds = await readDataset(dir, 'movielens-1m');
  const movies = await readFile(join(dir, 'movies.dat'), 'latin1');
  const all: { id: string; title: string; genres: string[] }[] = [];
  for (const line of movies.split('\n')) {
    const f = line.split('::');
    if (f.length === 3) all.push({ id: f[0], title: f[1], genres: f[2].trim().split('|') });
  }
  const counts = countsOf(ds);
  const rng = new Rng(seed);
  const hidden = new Set(all.filter(() => rng.next() < 0.3).map((m) => m.id));
  const index = new SearchIndex();
  index.upsert(
    all.map((m) => {
      const { name, year } = mlTitle(m.title);
      return { id: m.id, title: name, text: year, tags: hidden.has(m.id) ? [] : m.genres, popularity: counts.get(m.id) ?? 0 };
    }),
  );
  const report = index.trainContent(sequencesOf(ds), { train: { steps }, seed });
  const out: Record<string, unknown> = { items: index.size, tower: { lossStart: round(report.lossStart), lossEnd: round(report.lossEnd), seconds: round(report.seconds, 1) } };
  // 400 titles train the blend as known-item queries; the typo benchmark uses the other titles.
  const known = knownItemQueries(all.map((m) => ({ id: m.id, title: mlTitle(m.title).name })), 400, new Rng(seed + 4));
  if (!sets.has('ml')) index.fitBlend(known.queries.map((j) => ({ q: j.q, relevant: j.rel })));

  if (sets.has('ml')) {
    const genres = [...new Set(all.flatMap((m) => m.genres))].sort();
    const combos: string[][] = genres.map((g) => [g]);
    for (let i = 0; i < genres.length; i++) for (let j = i + 1; j < genres.length; j++) combos.push([genres[i], genres[j]]);
    const queries: JudgedQuery[] = [];
    for (const combo of combos) {
      const relevant = all.filter((m) => combo.every((g) => m.genres.includes(g)));
      if (relevant.length < 20) continue;
      const pops = relevant.map((m) => counts.get(m.id) ?? 0).sort((a, b) => a - b);
      const t1 = pops[Math.floor(pops.length / 3)];
      const t2 = pops[Math.floor((2 * pops.length) / 3)];
      const rel = new Map<string, number>();
      for (const m of relevant) {
        const p = counts.get(m.id) ?? 0;
        rel.set(m.id, p >= t2 ? 3 : p >= t1 ? 2 : 1);
      }
      queries.push({ q: combo.join(' ').toLowerCase(), rel });
    }
    out.genre = evaluate(index, queries, new Rng(seed + 2), known.queries);
  }

  if (sets.has('typo')) {
    const trng = new Rng(seed + 3);
    const hits: Record<string, number> = { lexical: 0, hybrid: 0 };
    let n = 0;
    const misses: string[] = [];
    for (const m of all) {
      if (known.used.has(m.id)) continue;
      const { name } = mlTitle(m.title);
      const q = injectTypo(name, trng);
      n++;
      for (const mode of ['lexical', 'hybrid'] as const) {
        const r = index.search({ q, n: 3, mode });
        if (r.itemIds.includes(m.id)) hits[mode]++;
        else if (mode === 'hybrid' && misses.length < 8) misses.push(`${q} → ${name}`);
      }
    }
    out.typo = { titles: n, heldOutFromBlendTraining: known.used.size, 'top3.lexical': round(hits.lexical / n), 'top3.hybrid': round(hits.hybrid / n), exampleMisses: misses };
  }
  return out;
}

async function latencySet(numItems: number, numQueries: number, seed: number, steps: number): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const data = generateSynthetic({ seed, users: 2_000, items: numItems, creators: Math.max(1, Math.floor(numItems / 20)), days: 30, eventsPerUser: 40, startMs: 0 });
  const creatorName = new Map<string, string>();
  for (const it of data.items) {
    const m = / track by (.+?):/.exec(it.text);
    if (it.creatorId && m) creatorName.set(it.creatorId, m[1]);
  }
  const pop = new Map<string, number>();
  for (const e of data.events) pop.set(e.itemId, (pop.get(e.itemId) ?? 0) + 1);
  const index = new SearchIndex();
  index.upsert(
    data.items.map((it) => ({
      id: it.id,
      title: it.title,
      text: it.text,
      tags: it.tags,
      creator: it.creatorId ? creatorName.get(it.creatorId) : undefined,
      creatorId: it.creatorId,
      available: it.available,
      popularity: pop.get(it.id) ?? 0,
    })),
  );
  const buildSeconds = (performance.now() - t0) / 1000;
  const seqs = new Map<string, string[]>();
  for (const e of data.events) {
    let s = seqs.get(e.userId);
    if (!s) seqs.set(e.userId, (s = []));
    s.push(e.itemId);
  }
  const t1 = performance.now();
  index.trainContent([...seqs.values()], { train: { steps }, seed });
  const trainSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  index.warm();
  const annSeconds = (performance.now() - t2) / 1000;
  // Blend fitted on tag queries (relevant: items carrying the tag) so the hybrid path is the learned one.
  const tagQueries = [...new Set(data.items.flatMap((it) => it.tags))].slice(0, 16).map((tag) => ({
    q: tag,
    relevant: new Set(data.items.filter((it) => it.tags.includes(tag)).map((it) => it.id)),
  }));
  index.fitBlend(tagQueries, { iterations: 200 });

  const rng = new Rng(seed + 9);
  const queries: string[] = [];
  for (let i = 0; i < numQueries; i++) {
    const it = data.items[rng.int(data.items.length)];
    const kind = i % 3;
    if (kind === 0) queries.push(injectTypo(it.title, rng));
    else if (kind === 1) queries.push(it.tags.slice(0, 2).join(' '));
    else {
      const t = it.title;
      queries.push(t.slice(0, Math.max(2, Math.floor(t.length * (0.4 + 0.5 * rng.next())))));
    }
  }
  const timeIt = (fn: (q: string) => void): { p50Ms: number; p99Ms: number; meanMs: number } => {
    for (let i = 0; i < Math.min(50, queries.length); i++) fn(queries[i]); // warm-up (JIT)
    const lat = new Float64Array(queries.length);
    for (let i = 0; i < queries.length; i++) {
      const s = performance.now();
      fn(queries[i]);
      lat[i] = performance.now() - s;
    }
    const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
    lat.sort();
    return { p50Ms: round(quantile(lat, 0.5), 3), p99Ms: round(quantile(lat, 0.99), 3), meanMs: round(mean, 3) };
  };
  const out: Record<string, unknown> = {
    items: index.size,
    queries: queries.length,
    buildSeconds: round(buildSeconds, 1),
    towerTrainSeconds: round(trainSeconds, 1),
    annBuildSeconds: round(annSeconds, 1),
  };
  for (const mode of MODES) out[mode] = timeIt((q) => index.search({ q, n: 10, mode }));
  out.filtered = timeIt((q) => index.search({ q, n: 10, tags: ['rock'] }));
  const history = data.items.slice(0, 50).map((it) => it.id);
  out.personal = timeIt((q) => index.search({ q, n: 10, userHistory: history }));
  out.suggest = timeIt((q) => index.suggest(q.slice(0, 4), 10));
  return out;
}

/**
 * (e) coldstart — issue 8 item 6. 10% of the items that have interactions (seeded) become "new": all
 * their interactions are removed from what the content tower trains on and from popularity. For every
 * user with ≥ 1 interaction on a new item and ≥ 5 on old ones (up to 3,000 users), the user's old
 * history (last 200) is the seed set of `contentNeighbours`, and the user's new items are the targets.
 *   among-new: rank only the new items (what a "fresh" candidate source must do) — content tower vs
 *     random (expected value) and popularity measured on the full data (an oracle: real new items have
 *     no counts yet), recall@10 and NDCG@10 (binary).
 *   among-all: rank every item the user has not consumed — content tower vs training popularity, recall@100
 *     of the new targets (popularity can never surface an item with no interactions).
 */
async function coldStartSet(ds: InteractionDataset, rows: SearchItem[], seed: number, steps: number): Promise<Record<string, unknown>> {
  const rng = new Rng(seed + 11);
  const full = countsOf(ds);
  const withEvents = rows.filter((r) => (full.get(r.id) ?? 0) > 0).map((r) => r.id);
  rng.shuffle(withEvents);
  const isNew = new Set(withEvents.slice(0, Math.round(withEvents.length * 0.1)));
  const seqs = sequencesOf(ds);
  const trainSeqs = seqs.map((s) => s.filter((id) => !isNew.has(id)));
  const trainCounts = new Map<string, number>();
  for (const s of trainSeqs) for (const id of s) trainCounts.set(id, (trainCounts.get(id) ?? 0) + 1);
  const index = new SearchIndex();
  index.upsert(rows.map((r) => ({ ...r, popularity: trainCounts.get(r.id) ?? 0 })));
  const report = index.trainContent(trainSeqs, { train: { steps }, seed });
  const newIds = [...isNew];
  const oracle = [...newIds].sort((a, b) => (full.get(b) ?? 0) - (full.get(a) ?? 0));
  const popAll = rows.map((r) => r.id).sort((a, b) => (trainCounts.get(b) ?? 0) - (trainCounts.get(a) ?? 0));
  const users = seqs.map((s, u) => u).filter((u) => seqs[u].some((id) => isNew.has(id)) && trainSeqs[u].length >= 5);
  rng.shuffle(users);
  const chosen = users.slice(0, 3_000);
  const m = { content: { r10: 0, ndcg10: 0 }, textSeeds: { r10: 0, ndcg10: 0 }, random: { r10: 0, ndcg10: 0 }, oracle: { r10: 0, ndcg10: 0 }, allContent: 0, allPop: 0 };
  const score = (ranked: readonly string[], targets: Set<string>, k: number): { r: number; ndcg: number } => {
    let hits = 0;
    let dcg = 0;
    for (let i = 0; i < Math.min(k, ranked.length); i++) {
      if (targets.has(ranked[i])) {
        hits++;
        dcg += 1 / Math.log2(i + 2);
      }
    }
    let idcg = 0;
    for (let i = 0; i < Math.min(k, targets.size); i++) idcg += 1 / Math.log2(i + 2);
    return { r: hits / Math.min(k, targets.size), ndcg: idcg > 0 ? dcg / idcg : 0 };
  };
  for (const u of chosen) {
    const targets = new Set(seqs[u].filter((id) => isNew.has(id)));
    const history = trainSeqs[u];
    const seen = new Set(history);
    const c = score(index.contentNeighbours(history, 10, (id) => isNew.has(id)).itemIds, targets, 10);
    m.content.r10 += c.r;
    m.content.ndcg10 += c.ndcg;
    const t = score(index.contentNeighbours(history, 10, (id) => isNew.has(id), { contentOnly: true }).itemIds, targets, 10);
    m.textSeeds.r10 += t.r;
    m.textSeeds.ndcg10 += t.ndcg;
    const o = score(oracle.slice(0, 10), targets, 10);
    m.oracle.r10 += o.r;
    m.oracle.ndcg10 += o.ndcg;
    // Random: expected recall@10 = 10 / |new|; expected NDCG under a uniform shuffle, by the same formula.
    m.random.r10 += Math.min(1, (10 * targets.size) / newIds.length) / Math.min(10, targets.size);
    let edcg = 0;
    for (let i = 0; i < 10; i++) edcg += (targets.size / newIds.length) / Math.log2(i + 2);
    let idcg = 0;
    for (let i = 0; i < Math.min(10, targets.size); i++) idcg += 1 / Math.log2(i + 2);
    m.random.ndcg10 += edcg / idcg;
    m.allContent += score(index.contentNeighbours(history, 100, (id) => !seen.has(id)).itemIds, targets, 100).r;
    m.allPop += score(popAll.filter((id) => !seen.has(id)).slice(0, 100), targets, 100).r;
  }
  const nU = Math.max(1, chosen.length);
  return {
    items: rows.length,
    newItems: newIds.length,
    users: chosen.length,
    'among-new': {
      content: { 'recall@10': round(m.content.r10 / nU), 'NDCG@10': round(m.content.ndcg10 / nU) },
      contentTextSeeds: { 'recall@10': round(m.textSeeds.r10 / nU), 'NDCG@10': round(m.textSeeds.ndcg10 / nU) },
      random: { 'recall@10': round(m.random.r10 / nU), 'NDCG@10': round(m.random.ndcg10 / nU) },
      popularityOracle: { 'recall@10': round(m.oracle.r10 / nU), 'NDCG@10': round(m.oracle.ndcg10 / nU) },
    },
    'among-all': { 'content.recall@100': round(m.allContent / nU), 'popularity.recall@100': round(m.allPop / nU) },
    tower: { lossStart: round(report.lossStart), lossEnd: round(report.lossEnd), seconds: round(report.seconds, 1) },
  };
}

/**
 * (f) options — why the lexical index is our own: the same typo'd ML-1M titles and 100k-item latency
 * queries against SQLite FTS5 (better-sqlite3; unicode61 tokenizer with diacritic removal, each word
 * as a prefix query OR'ed, bm25 with the same field weights) and, when it is installed
 * (`npm install --no-save minisearch`), minisearch (fuzzy 0.2, prefix, same boosts) next to ours.
 */
async function optionsSet(dir: string, seed: number, numItems: number): Promise<Record<string, unknown>> {
  const { default: Database } = await import('better-sqlite3');
  type Engine = { name: string; build(docs: { id: string; title: string; text: string; tags: string }[]): void; search(q: string, k: number): string[] };
  const fts = (): Engine => {
    const db = new Database(':memory:');
    db.exec(`CREATE VIRTUAL TABLE d USING fts5(id UNINDEXED, title, text, tags, tokenize='unicode61 remove_diacritics 2')`);
    const sel = db.prepare(`SELECT id FROM d WHERE d MATCH ? ORDER BY bm25(d, 0, 3, 1, 2) LIMIT ?`);
    return {
      name: 'sqlite-fts5',
      build(docs) {
        const ins = db.prepare('INSERT INTO d(id, title, text, tags) VALUES (?, ?, ?, ?)');
        db.transaction(() => docs.forEach((d) => ins.run(d.id, d.title, d.text, d.tags)))();
      },
      search(q, k) {
        const toks = q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
        if (toks.length === 0) return [];
        return (sel.all(toks.map((t) => `"${t}"*`).join(' OR '), k) as { id: string }[]).map((r) => r.id);
      },
    };
  };
  const ours = (): Engine => {
    const idx = new LexicalIndex();
    const ids: string[] = [];
    return {
      name: 'tastemaker-lexical',
      build: (docs) =>
        docs.forEach((d) => {
          idx.add(ids.length, { title: d.title, text: d.text, tags: d.tags ? d.tags.split(' ') : [] });
          ids.push(d.id);
        }),
      search: (q, k) => Array.from(idx.search(q, k).ixs, (ix) => ids[ix]),
    };
  };
  const engines: (() => Engine)[] = [fts, ours];
  try {
    const mod = (await import('minisearch' as string)) as { default: new (o: unknown) => { addAll(d: unknown[]): void; search(q: string): { id: string }[] } };
    engines.push(() => {
      const ms = new mod.default({ fields: ['title', 'text', 'tags'], storeFields: [], searchOptions: { boost: { title: 3, tags: 2 }, fuzzy: 0.2, prefix: true } });
      return { name: 'minisearch', build: (docs) => ms.addAll(docs), search: (q, k) => ms.search(q).slice(0, k).map((r) => r.id) };
    });
  } catch {
    // minisearch is not a dependency; its row is simply absent.
  }
  const movies = (await readFile(join(dir, 'movies.dat'), 'latin1'))
    .split('\n')
    .map((l) => l.split('::'))
    .filter((f) => f.length === 3)
    .map((f) => ({ id: f[0], title: mlTitle(f[1]).name, text: '', tags: f[2].trim().split('|').join(' ') }));
  const trng = new Rng(seed + 3);
  const typoQs = movies.map((m) => ({ id: m.id, q: injectTypo(m.title, trng) }));
  const data = generateSynthetic({ seed, users: 10, items: numItems, creators: Math.max(1, Math.floor(numItems / 20)), days: 1, eventsPerUser: 2, startMs: 0 });
  const synth = data.items.map((it) => ({ id: it.id, title: it.title, text: it.text, tags: it.tags.join(' ') }));
  const qrng = new Rng(seed + 9);
  const latQs = Array.from({ length: 300 }, () => injectTypo(synth[qrng.int(synth.length)].title, qrng));
  const out: Record<string, unknown> = {};
  for (const make of engines) {
    const a = make();
    a.build(movies);
    let hit = 0;
    for (const { id, q } of typoQs) if (a.search(q, 3).includes(id)) hit++;
    const b = make();
    const t0 = performance.now();
    b.build(synth);
    const buildSeconds = (performance.now() - t0) / 1000;
    for (let i = 0; i < 30; i++) b.search(latQs[i], 10);
    const lat = new Float64Array(latQs.length);
    latQs.forEach((q, i) => {
      const s = performance.now();
      b.search(q, 10);
      lat[i] = performance.now() - s;
    });
    lat.sort();
    out[a.name] = { 'typoTop3.ml1m': round(hit / typoQs.length), buildSeconds: round(buildSeconds, 2), p50Ms: round(quantile(lat, 0.5), 3), p99Ms: round(quantile(lat, 0.99), 3) };
  }
  return out;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: '../shared/data' },
      sets: { type: 'string', default: 'typo,lastfm,ml,latency,coldstart,options' },
      seed: { type: 'string', default: '1' },
      steps: { type: 'string', default: '1500' },
      'latency-items': { type: 'string', default: '100000' },
      'latency-queries': { type: 'string', default: '1000' },
      'latency-steps': { type: 'string', default: '300' },
    },
  });
  const seed = Number(values.seed);
  const steps = Number(values.steps);
  const sets = new Set(values.sets.split(',').map((s) => s.trim()));
  const t0 = performance.now();
  const out: Record<string, unknown> = { bench: 'search', seed };
  if (sets.has('typo') || sets.has('ml')) {
    const ml = await mlSets(join(values.data, 'movielens-1m'), seed, steps, sets);
    out.ml = ml;
  }
  if (sets.has('lastfm')) out.lastfm = await lastfmSet(join(values.data, 'lastfm-hetrec2011-2k'), seed, steps);
  if (sets.has('options')) out.options = await optionsSet(join(values.data, 'movielens-1m'), seed, Number(values['latency-items']));
  if (sets.has('coldstart')) {
    const dir = join(values.data, 'movielens-1m');
    const ds = await readDataset(dir, 'movielens-1m');
    const rows: SearchItem[] = ds.itemIds.map((id, i) => {
      const { name, year } = mlTitle(ds.itemTitles?.[i] ?? '');
      return { id, title: name, text: year, tags: ds.itemTags?.[i] ?? [] };
    });
    out.coldstart = { 'movielens-1m': await coldStartSet(ds, rows, seed, steps) };
  }
  if (sets.has('latency')) {
    out.latency = await latencySet(Number(values['latency-items']), Number(values['latency-queries']), seed, Number(values['latency-steps']));
  }
  out.totalSeconds = round((performance.now() - t0) / 1000, 1);
  return out;
}
