/**
 * Offline dataset readers: turn benchmark files into an `InteractionDataset` (CSR sequences + id maps +
 * item side information) for training and the eval harness. Files are read whole and scanned with
 * `indexOf` over one string; interactions go into growable typed arrays, and the per-user grouping is a
 * stable counting sort, so ML-1M (1M lines) loads in well under a second.
 *
 * Dense indexes are assigned in order of first appearance in the interaction file (users and items
 * separately), so the same file always gives the same `userIx`/`itemIx`. Only items that occur in an
 * interaction get an index; catalog rows without interactions are ignored here (the `import` command
 * stores the whole catalog).
 *
 * Formats:
 * - `sasrec`: lines `user item` (space or tab), chronological per user.
 * - `seqs`: lines `user i1 i2 ...` (S3-Rec style), chronological.
 * - `movielens-1m`: the GroupLens download directory as is (`ratings.dat`
 *   `UserID::MovieID::Rating::Timestamp` in seconds: each user's ratings ordered by time, ties in file
 *   order, `timestampsMs` filled), or our derived layout (`derived/user_item_chronological.tsv`, tab
 *   `user item`, chronological, no ratings/timestamps); either file may be given instead of the
 *   directory (see resolveMl1m). `movies.dat` (Latin-1 `id::title::genres`) gives titles, genres become tags.
 * - `movielens-100k`: a directory (or `u.data`) with `u.data` (tab `user item rating unix-seconds`);
 *   each user's interactions are ordered by timestamp, ties kept in file order; `timestampsMs` filled.
 *   `u.item` (`|`, Latin-1) gives titles and the 19 genre flags, named by `u.genre`, become tags.
 * - `lastfm-hetrec`: a directory of the HetRec 2011 Last.fm files. The data has no listening times, only
 *   play counts (`user_artists.dat`) and the dates on which users tagged artists
 *   (`user_taggedartists.dat`, day resolution). Our ordering of each user's artists therefore is:
 *     1. artists the user never tagged, by descending play count (ties: file order), then
 *     2. artists the user tagged, by the date of the user's first tag on that artist ascending
 *        (ties: descending play count, then file order).
 *   This puts every real time signal at the end of the sequence, so a leave-last-out split tests on the
 *   most recently tagged artist where one exists. It is a proxy for chronology, not chronology; no
 *   `timestampsMs` are produced. Titles come from `artists.dat` (UTF-8); tags are each artist's 10 most
 *   frequent tags over all users (`user_taggedartists.dat` + `tags.dat`, Latin-1; ties by tag id).
 * - `csv` / `jsonl`: generic interaction files with fields `userId`, `itemId` and optional `timestamp`
 *   (ms since epoch or ISO-8601, as in the API). With timestamps, each user's events are ordered by
 *   timestamp (ties in file order) and `timestampsMs` is filled; without, file order is kept.
 */
import { readFile, stat } from 'node:fs/promises';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import type { InteractionDataset, Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { Timestamp } from '../core/schemas.js';

export const DatasetFormat = z.enum([
  'sasrec',
  'seqs',
  'movielens-1m',
  'movielens-100k',
  'lastfm-hetrec',
  'csv',
  'jsonl',
]);
export type DatasetFormat = z.infer<typeof DatasetFormat>;

/** Upper bound on interactions held in memory by one reader (Int32 CSR offsets). */
const MAX_INTERACTIONS = 200_000_000;

/** Reads a dataset file or directory in the given format. Throws ValidationError naming `path`/`format`. */
export async function readDataset(path: string, format: DatasetFormat): Promise<InteractionDataset> {
  const fmt = DatasetFormat.safeParse(format);
  if (!fmt.success) {
    throw new ValidationError(`unknown dataset format '${String(format)}'`, [
      { path: 'format', message: `must be one of ${DatasetFormat.options.join(', ')}` },
    ]);
  }
  await assertExists(path);
  switch (fmt.data) {
    case 'sasrec':
      return readSasrec(path);
    case 'seqs':
      return readSeqs(path);
    case 'movielens-1m':
      return readMovielens1m(path);
    case 'movielens-100k':
      return readMovielens100k(path);
    case 'lastfm-hetrec':
      return readLastfmHetrec(path);
    case 'csv':
      return readCsv(path);
    case 'jsonl':
      return readJsonl(path);
  }
}

// ---------------------------------------------------------------------------------------------------
// Building blocks

async function assertExists(path: string): Promise<void> {
  try {
    await stat(path);
  } catch {
    throw new ValidationError(`dataset not found: ${path}`, [{ path: 'path', message: 'no such file or directory' }]);
  }
}

function badLine(file: string, lineNo: number, message: string): ValidationError {
  return new ValidationError(`${basename(file)} line ${lineNo}: ${message}`, [
    { path: `${basename(file)}:${lineNo}`, message },
  ]);
}

/** String id -> dense index, in order of first appearance. */
export class IdIndex {
  readonly ids: string[] = [];
  private readonly map = new Map<string, number>();
  ix(id: string): number {
    let i = this.map.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.map.set(id, i);
      this.ids.push(id);
    }
    return i;
  }
  get(id: string): number | undefined {
    return this.map.get(id);
  }
  get size(): number {
    return this.ids.length;
  }
}

/** Append-only Int32 buffer with doubling growth. */
class IntBuf {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      if (this.length >= MAX_INTERACTIONS) throw new ValidationError(`more than ${MAX_INTERACTIONS} interactions`);
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/** Append-only Float64 buffer with doubling growth. */
class FloatBuf {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/** Counts '\n' to size buffers up front. */
export function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Calls `fn(line, lineNo)` for every non-empty line (1-based numbers, '\r' stripped). `skipHeader`
 * drops the first line.
 */
export function eachLine(text: string, fn: (line: string, lineNo: number) => void, skipHeader = false): void {
  let start = 0;
  let lineNo = 0;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = n;
    lineNo++;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    if (stop > start && !(skipHeader && lineNo === 1)) fn(text.slice(start, stop), lineNo);
    start = end + 1;
  }
}

/** Index of the first space or tab at or after `from`, or -1. */
function nextBlank(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) return i;
  }
  return -1;
}

/** Index of the first non-blank at or after `from` (s.length if none). */
function skipBlanks(s: string, from: number): number {
  let i = from;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/**
 * Groups interactions by user with a stable counting sort (file order kept within a user), optionally
 * then ordering each user's slice by `keys` ascending (ties by original position).
 *   userIx, itemIx: [n]; keys: [n] or undefined.
 * Returns the CSR sequences and, when keys are given, the keys permuted alongside the items.
 */
export function groupByUser(
  userIx: Int32Array,
  itemIx: Int32Array,
  n: number,
  numUsers: number,
  numItems: number,
  keys?: Float64Array,
): { seqs: Sequences; sortedKeys?: Float64Array } {
  const offsets = new Int32Array(numUsers + 1); // [numUsers + 1]
  for (let i = 0; i < n; i++) offsets[userIx[i] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const order = new Int32Array(n); // [n] original positions in CSR order
  for (let i = 0; i < n; i++) order[cursor[userIx[i]]++] = i;
  if (keys) {
    for (let u = 0; u < numUsers; u++) {
      const lo = offsets[u];
      const hi = offsets[u + 1];
      if (hi - lo < 2) continue;
      let sorted = true;
      for (let j = lo + 1; j < hi; j++) {
        if (keys[order[j]] < keys[order[j - 1]]) {
          sorted = false;
          break;
        }
      }
      if (!sorted) order.subarray(lo, hi).sort((a, b) => keys[a] - keys[b] || a - b);
    }
  }
  const items = new Int32Array(n); // [n]
  for (let j = 0; j < n; j++) items[j] = itemIx[order[j]];
  const seqs: Sequences = { numUsers, numItems, offsets, items };
  if (!keys) return { seqs };
  const sortedKeys = new Float64Array(n);
  for (let j = 0; j < n; j++) sortedKeys[j] = keys[order[j]];
  return { seqs, sortedKeys };
}

/** Collects (user, item[, time]) triples and assigns dense indexes in first-appearance order. */
class InteractionBuilder {
  readonly users = new IdIndex();
  readonly items = new IdIndex();
  readonly userIx: IntBuf;
  readonly itemIx: IntBuf;
  readonly times: FloatBuf | undefined;
  constructor(capacity: number, withTimes: boolean) {
    this.userIx = new IntBuf(capacity);
    this.itemIx = new IntBuf(capacity);
    this.times = withTimes ? new FloatBuf(capacity) : undefined;
  }
  add(userId: string, itemId: string, timeMs = 0): void {
    this.userIx.push(this.users.ix(userId));
    this.itemIx.push(this.items.ix(itemId));
    this.times?.push(timeMs);
  }
  build(name: string, sortByTime: boolean): InteractionDataset {
    const n = this.userIx.length;
    const { seqs, sortedKeys } = groupByUser(
      this.userIx.data,
      this.itemIx.data,
      n,
      this.users.size,
      this.items.size,
      sortByTime && this.times ? this.times.data : undefined,
    );
    const ds: InteractionDataset = { name, seqs, userIds: this.users.ids, itemIds: this.items.ids };
    if (sortedKeys) ds.timestampsMs = sortedKeys;
    return ds;
  }
}

function stem(path: string): string {
  const b = basename(path);
  const e = extname(b);
  return e ? b.slice(0, -e.length) : b;
}

// ---------------------------------------------------------------------------------------------------
// sasrec / seqs

/** Lines of exactly two blank-separated fields `user item` into the builder. */
function addPairLines(text: string, file: string, b: InteractionBuilder): void {
  eachLine(text, (line, lineNo) => {
    const s0 = skipBlanks(line, 0);
    const e0 = nextBlank(line, s0);
    if (e0 === -1) throw badLine(file, lineNo, 'expected `user item`');
    const s1 = skipBlanks(line, e0);
    let e1 = nextBlank(line, s1);
    if (e1 === -1) e1 = line.length;
    if (s1 >= e1 || skipBlanks(line, e1) !== line.length) throw badLine(file, lineNo, 'expected `user item`');
    b.add(line.slice(s0, e0), line.slice(s1, e1));
  });
}

async function readSasrec(path: string): Promise<InteractionDataset> {
  const text = await readFile(path, 'utf8');
  const b = new InteractionBuilder(countLines(text), false);
  addPairLines(text, path, b);
  return b.build(stem(path), false);
}

async function readSeqs(path: string): Promise<InteractionDataset> {
  const text = await readFile(path, 'utf8');
  const b = new InteractionBuilder(text.length >> 2, false);
  eachLine(text, (line, lineNo) => {
    let s = skipBlanks(line, 0);
    let e = nextBlank(line, s);
    if (e === -1) throw badLine(path, lineNo, 'expected `user item1 item2 ...`');
    const userId = line.slice(s, e);
    s = skipBlanks(line, e);
    while (s < line.length) {
      e = nextBlank(line, s);
      if (e === -1) e = line.length;
      b.add(userId, line.slice(s, e));
      s = skipBlanks(line, e);
    }
  });
  return b.build(stem(path), false);
}

// ---------------------------------------------------------------------------------------------------
// MovieLens

/** Side information aligned with an item index: per-id title and tags. */
interface ItemInfo {
  title: string;
  tags: string[];
}

function attachItemInfo(ds: InteractionDataset, info: Map<string, ItemInfo>): void {
  ds.itemTitles = ds.itemIds.map((id) => info.get(id)?.title ?? '');
  ds.itemTags = ds.itemIds.map((id) => info.get(id)?.tags ?? []);
}

/** Parses ML-1M `movies.dat`: `id::title::genre|genre`, Latin-1. */
export function parseMoviesDat(text: string, file = 'movies.dat'): Map<string, ItemInfo> {
  const out = new Map<string, ItemInfo>();
  eachLine(text, (line, lineNo) => {
    const a = line.indexOf('::');
    const z2 = line.lastIndexOf('::');
    if (a <= 0 || z2 === a) throw badLine(file, lineNo, 'expected `id::title::genres`');
    const genres = line.slice(z2 + 2);
    out.set(line.slice(0, a), { title: line.slice(a + 2, z2), tags: genres ? genres.split('|') : [] });
  });
  return out;
}

/**
 * Where the parts of an ML-1M copy are. Two layouts are read as they are:
 * - the GroupLens download (`ml-1m/`): `ratings.dat` (`UserID::MovieID::Rating::Timestamp`, seconds),
 *   `movies.dat`, `users.dat`;
 * - our derived layout: `derived/user_item_chronological.tsv` (tab `user item`, chronological, no
 *   ratings or times) beside `movies.dat` and `users.dat`.
 * A directory holding both is read from `ratings.dat` (real times and ratings). A file path is
 * `ratings.dat` when it uses `::` separators, else the tsv; the side files are then looked up beside it
 * or, for `derived/…`, one level up.
 */
export interface Ml1mLayout {
  /** Exactly one of ratings / tsv is set. */
  ratings?: string;
  tsv?: string;
  movies?: string;
  users?: string;
}

export function resolveMl1m(path: string): Ml1mLayout {
  const side = (roots: string[]) => ({
    movies: roots.map((r) => join(r, 'movies.dat')).find((p) => existsSync(p)),
    users: roots.map((r) => join(r, 'users.dat')).find((p) => existsSync(p)),
  });
  if (statSync(path).isDirectory()) {
    const ratings = join(path, 'ratings.dat');
    if (existsSync(ratings)) return { ratings, ...side([path]) };
    const tsv = [join(path, 'derived', 'user_item_chronological.tsv'), join(path, 'user_item_chronological.tsv')].find((p) => existsSync(p));
    if (!tsv) {
      throw new ValidationError(`no ratings.dat or derived/user_item_chronological.tsv in ${path}`, [
        { path: 'path', message: 'a movielens-1m directory needs ratings.dat (the GroupLens download) or derived/user_item_chronological.tsv' },
      ]);
    }
    return { tsv, ...side([path]) };
  }
  const roots = [dirname(path), dirname(dirname(path))];
  return isDoubleColonFile(path) ? { ratings: path, ...side(roots) } : { tsv: path, ...side(roots) };
}

/** True when the file's first line uses ML-1M's `::` separator (ratings.dat rather than the tsv). */
function isDoubleColonFile(path: string): boolean {
  if (basename(path) === 'ratings.dat') return true;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('latin1');
    return head.split('\n', 1)[0].includes('::');
  } finally {
    closeSync(fd);
  }
}

/** ML-1M ratings.dat in typed arrays (row r = the r-th non-empty line).   all arrays: [n]. */
export interface RatingsDat {
  users: IdIndex;
  items: IdIndex;
  userIx: Int32Array;
  itemIx: Int32Array;
  stars: Float64Array;
  /** Seconds since the epoch. */
  seconds: Float64Array;
  /** Row number of each entry (rows with a bad line are skipped, so row ≠ entry index then). */
  row: Int32Array;
  n: number;
}

/**
 * Parses `UserID::MovieID::Rating::Timestamp` lines. A malformed line calls `onBad(row, lineNo)` and is
 * skipped (the importer rejects it; the eval reader throws).
 */
export function parseRatingsDat(text: string, onBad: (row: number, lineNo: number) => void): RatingsDat {
  const cap = countLines(text);
  const users = new IdIndex();
  const items = new IdIndex();
  const userIx = new Int32Array(cap);
  const itemIx = new Int32Array(cap);
  const stars = new Float64Array(cap);
  const seconds = new Float64Array(cap);
  const rowOf = new Int32Array(cap);
  let n = 0;
  let row = 0;
  eachLine(text, (line, lineNo) => {
    const a = line.indexOf('::');
    const b = a < 0 ? -1 : line.indexOf('::', a + 2);
    const c = b < 0 ? -1 : line.indexOf('::', b + 2);
    const r = c < 0 ? NaN : Number(line.slice(b + 2, c));
    const t = c < 0 ? NaN : Number(line.slice(c + 2));
    if (a <= 0 || b <= a + 2 || c <= b + 2 || c + 2 >= line.length || !Number.isFinite(r) || !Number.isInteger(t) || t < 0 || line.indexOf('::', c + 2) !== -1) {
      onBad(row++, lineNo);
      return;
    }
    userIx[n] = users.ix(line.slice(0, a));
    itemIx[n] = items.ix(line.slice(a + 2, b));
    stars[n] = r;
    seconds[n] = t;
    rowOf[n++] = row++;
  });
  return { users, items, userIx, itemIx, stars, seconds, row: rowOf, n };
}

async function readMovielens1m(path: string): Promise<InteractionDataset> {
  const layout = resolveMl1m(path);
  let ds: InteractionDataset;
  if (layout.ratings) {
    const file = layout.ratings;
    const r = parseRatingsDat(await readFile(file, 'latin1'), (_row, lineNo) => {
      throw badLine(file, lineNo, 'expected `UserID::MovieID::Rating::Timestamp`');
    });
    const times = new Float64Array(r.n); // [n] ms
    for (let i = 0; i < r.n; i++) times[i] = r.seconds[i] * 1000;
    // Each user's ratings by time, ties in file order (as movielens-100k).
    const { seqs, sortedKeys } = groupByUser(r.userIx, r.itemIx, r.n, r.users.size, r.items.size, times);
    ds = { name: 'movielens-1m', seqs, userIds: r.users.ids, itemIds: r.items.ids, timestampsMs: sortedKeys };
  } else {
    const text = await readFile(layout.tsv!, 'utf8');
    const b = new InteractionBuilder(countLines(text), false);
    addPairLines(text, layout.tsv!, b);
    ds = b.build('movielens-1m', false);
  }
  if (layout.movies) attachItemInfo(ds, parseMoviesDat(await readFile(layout.movies, 'latin1'), layout.movies));
  return ds;
}

/** The 19 ML-100K genres in flag order, used when `u.genre` is absent. */
const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama',
  'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/** Parses `u.genre` (`name|index`) into names by index. */
export function parseUGenre(text: string): string[] {
  const names: string[] = [];
  eachLine(text, (line) => {
    const bar = line.lastIndexOf('|');
    if (bar > 0) names[Number(line.slice(bar + 1))] = line.slice(0, bar);
  });
  return names;
}

/** Parses `u.item`: `id|title|release|video release|url|flag x19`, Latin-1. */
export function parseUItem(text: string, genres: string[], file = 'u.item'): Map<string, ItemInfo & { release: string }> {
  const out = new Map<string, ItemInfo & { release: string }>();
  eachLine(text, (line, lineNo) => {
    const f = line.split('|');
    if (f.length < 5) throw badLine(file, lineNo, 'expected `id|title|release|video|url|genre flags`');
    const tags: string[] = [];
    for (let g = 5; g < f.length; g++) if (f[g] === '1' && genres[g - 5] !== undefined) tags.push(genres[g - 5]);
    out.set(f[0], { title: f[1], tags, release: f[2] });
  });
  return out;
}

function resolveDir(path: string): string {
  return statSync(path).isDirectory() ? path : dirname(path);
}

async function readMovielens100k(path: string): Promise<InteractionDataset> {
  const dir = resolveDir(path);
  const dataPath = statSync(path).isDirectory() ? join(dir, 'u.data') : path;
  if (!existsSync(dataPath)) {
    throw new ValidationError(`no u.data in ${dir}`, [{ path: 'path', message: 'movielens-100k needs u.data' }]);
  }
  const text = await readFile(dataPath, 'utf8');
  const b = new InteractionBuilder(countLines(text), true);
  eachLine(text, (line, lineNo) => {
    const t1 = line.indexOf('\t');
    const t2 = line.indexOf('\t', t1 + 1);
    const t3 = line.indexOf('\t', t2 + 1);
    if (t1 <= 0 || t2 === -1 || t3 === -1) throw badLine(dataPath, lineNo, 'expected `user<TAB>item<TAB>rating<TAB>ts`');
    const ts = Number(line.slice(t3 + 1));
    if (!Number.isFinite(ts)) throw badLine(dataPath, lineNo, 'timestamp is not a number');
    b.add(line.slice(0, t1), line.slice(t1 + 1, t2), ts * 1000);
  });
  const ds = b.build('movielens-100k', true);
  const itemPath = join(dir, 'u.item');
  if (existsSync(itemPath)) {
    const genrePath = join(dir, 'u.genre');
    const genres = existsSync(genrePath) ? parseUGenre(await readFile(genrePath, 'latin1')) : ML100K_GENRES;
    attachItemInfo(ds, parseUItem(await readFile(itemPath, 'latin1'), genres, itemPath));
  }
  return ds;
}

// ---------------------------------------------------------------------------------------------------
// Last.fm HetRec 2011

/** Reads a tab-separated file with a header row into rows of fields. */
export function eachTsvRow(text: string, file: string, minFields: number, fn: (f: string[], lineNo: number) => void): void {
  eachLine(
    text,
    (line, lineNo) => {
      const f = line.split('\t');
      if (f.length < minFields) throw badLine(file, lineNo, `expected ${minFields} tab-separated fields`);
      fn(f, lineNo);
    },
    true,
  );
}

/** Top-k tags per artist by number of (user, tag) assignments; ties by tag id ascending. */
export function topTagsPerArtist(
  tagged: string,
  tagNames: Map<string, string>,
  k: number,
  file = 'user_taggedartists.dat',
): Map<string, string[]> {
  const counts = new Map<string, Map<string, number>>();
  eachTsvRow(tagged, file, 3, (f) => {
    let m = counts.get(f[1]);
    if (!m) counts.set(f[1], (m = new Map()));
    m.set(f[2], (m.get(f[2]) ?? 0) + 1);
  });
  const out = new Map<string, string[]>();
  for (const [artist, m] of counts) {
    const top = [...m.entries()]
      .sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0]))
      .slice(0, k)
      .map(([tagId]) => tagNames.get(tagId) ?? tagId);
    out.set(artist, top);
  }
  return out;
}

/** First tag date per `user\tartist` as yyyymmdd, from user_taggedartists.dat text. */
export function firstTagDates(tagged: string, file = 'user_taggedartists.dat'): Map<string, number> {
  const firstTag = new Map<string, number>();
  eachTsvRow(tagged, file, 6, (f) => {
    const key = `${f[0]}\t${f[1]}`;
    const date = Number(f[5]) * 10_000 + Number(f[4]) * 100 + Number(f[3]);
    const prev = firstTag.get(key);
    if (prev === undefined || date < prev) firstTag.set(key, date);
  });
  return firstTag;
}

/**
 * The Last.fm per-user ordering of the file header: untagged artists by descending weight, then tagged
 * ones by first tag date (ties: descending weight, then file order).
 *   userIx, dates (yyyymmdd, 0 = untagged), weights: [n].
 * Returns CSR offsets [numUsers + 1] and `order` [n]: original row positions in sequence order.
 */
export function lastfmOrder(
  userIx: Int32Array,
  dates: Float64Array,
  weights: Float64Array,
  n: number,
  numUsers: number,
): { offsets: Int32Array; order: Int32Array } {
  const offsets = new Int32Array(numUsers + 1);
  for (let i = 0; i < n; i++) offsets[userIx[i] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[cursor[userIx[i]]++] = i;
  for (let u = 0; u < numUsers; u++) {
    order.subarray(offsets[u], offsets[u + 1]).sort((x, y) => {
      const gx = dates[x] > 0 ? 1 : 0;
      const gy = dates[y] > 0 ? 1 : 0;
      return gx - gy || dates[x] - dates[y] || weights[y] - weights[x] || x - y;
    });
  }
  return { offsets, order };
}

/** Reads user_artists.dat rows (header skipped): ids, weights and first tag dates, in file order. */
export function parseUserArtists(
  text: string,
  firstTag: Map<string, number>,
  file = 'user_artists.dat',
): { users: IdIndex; items: IdIndex; userIx: Int32Array; itemIx: Int32Array; dates: Float64Array; weights: Float64Array; n: number } {
  const cap = countLines(text);
  const b = new InteractionBuilder(cap, false);
  const dates = new FloatBuf(cap); // 0 = never tagged
  const weights = new FloatBuf(cap);
  eachTsvRow(text, file, 3, (f, lineNo) => {
    const w = Number(f[2]);
    if (!Number.isFinite(w)) throw badLine(file, lineNo, 'weight is not a number');
    b.add(f[0], f[1]);
    dates.push(firstTag.get(`${f[0]}\t${f[1]}`) ?? 0);
    weights.push(w);
  });
  return {
    users: b.users,
    items: b.items,
    userIx: b.userIx.data,
    itemIx: b.itemIx.data,
    dates: dates.data,
    weights: weights.data,
    n: b.userIx.length,
  };
}

async function readLastfmHetrec(path: string): Promise<InteractionDataset> {
  const dir = resolveDir(path);
  const uaPath = join(dir, 'user_artists.dat');
  if (!existsSync(uaPath)) {
    throw new ValidationError(`no user_artists.dat in ${dir}`, [{ path: 'path', message: 'lastfm-hetrec needs user_artists.dat' }]);
  }
  const taggedPath = join(dir, 'user_taggedartists.dat');
  const tagged = existsSync(taggedPath) ? await readFile(taggedPath, 'latin1') : '';
  const ua = parseUserArtists(await readFile(uaPath, 'utf8'), tagged ? firstTagDates(tagged, taggedPath) : new Map(), uaPath);
  const { offsets, order } = lastfmOrder(ua.userIx, ua.dates, ua.weights, ua.n, ua.users.size);
  const items = new Int32Array(ua.n); // [n]
  for (let j = 0; j < ua.n; j++) items[j] = ua.itemIx[order[j]];
  const seqs: Sequences = { numUsers: ua.users.size, numItems: ua.items.size, offsets, items };
  const ds: InteractionDataset = { name: 'lastfm-hetrec', seqs, userIds: ua.users.ids, itemIds: ua.items.ids };

  const info = new Map<string, ItemInfo>();
  const artistsPath = join(dir, 'artists.dat');
  if (existsSync(artistsPath)) {
    eachTsvRow(await readFile(artistsPath, 'utf8'), artistsPath, 2, (f) => info.set(f[0], { title: f[1], tags: [] }));
  }
  const tagsPath = join(dir, 'tags.dat');
  if (tagged) {
    const tagNames = new Map<string, string>();
    if (existsSync(tagsPath)) eachTsvRow(await readFile(tagsPath, 'latin1'), tagsPath, 2, (f) => tagNames.set(f[0], f[1]));
    for (const [artist, tags] of topTagsPerArtist(tagged, tagNames, 10, taggedPath)) {
      const row = info.get(artist);
      if (row) row.tags = tags;
      else info.set(artist, { title: '', tags });
    }
  }
  attachItemInfo(ds, info);
  return ds;
}

// ---------------------------------------------------------------------------------------------------
// Generic CSV / JSONL

const InteractionRow = z.object({
  userId: z.union([z.string().min(1), z.number()]).transform(String),
  itemId: z.union([z.string().min(1), z.number()]).transform(String),
  timestamp: z.union([Timestamp, z.string().regex(/^\d+$/).transform(Number)]).optional(),
});

function addGenericRow(b: InteractionBuilder, raw: unknown, where: string, state: { timed: number; rows: number }): void {
  const r = InteractionRow.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.length ? String(issue.path[0]) : '(row)';
    throw new ValidationError(`${where}: ${field}: ${issue.message}`, [{ path: `${where}.${field}`, message: issue.message }]);
  }
  state.rows++;
  if (r.data.timestamp !== undefined) state.timed++;
  b.add(r.data.userId, r.data.itemId, r.data.timestamp ?? 0);
}

function finishGeneric(b: InteractionBuilder, path: string, state: { timed: number; rows: number }): InteractionDataset {
  if (state.timed !== 0 && state.timed !== state.rows) {
    throw new ValidationError(`${basename(path)}: timestamp present on ${state.timed} of ${state.rows} rows`, [
      { path: 'timestamp', message: 'must be present on every row or on none' },
    ]);
  }
  return b.build(stem(path), state.timed > 0);
}

async function readCsv(path: string): Promise<InteractionDataset> {
  const text = await readFile(path, 'utf8');
  const rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
  const b = new InteractionBuilder(rows.length, true);
  const state = { timed: 0, rows: 0 };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const raw: Record<string, unknown> = { userId: row.userId, itemId: row.itemId };
    if (row.timestamp !== undefined && row.timestamp !== '') raw.timestamp = row.timestamp;
    addGenericRow(b, raw, `${basename(path)} row ${i + 2}`, state);
  }
  return finishGeneric(b, path, state);
}

async function readJsonl(path: string): Promise<InteractionDataset> {
  const text = await readFile(path, 'utf8');
  const b = new InteractionBuilder(countLines(text), true);
  const state = { timed: 0, rows: 0 };
  eachLine(text, (line, lineNo) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw badLine(path, lineNo, 'not valid JSON');
    }
    addGenericRow(b, raw, `${basename(path)} line ${lineNo}`, state);
  });
  return finishGeneric(b, path, state);
}
