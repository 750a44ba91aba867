/**
 * File importers behind `tastemaker import`: generic CSV/JSONL files of items, users or events, and the
 * benchmark dataset layouts (MovieLens 1M/100K, Last.fm HetRec 2011, SASRec/seqs text). Rows are written
 * in batches of 5,000, one store transaction per batch, so memory stays flat and a crash loses at most
 * the batch in flight.
 *
 * Restart safety: every imported event has a deterministic id, so running an import again (or resuming
 * after a crash) stores nothing twice; repeats are counted as `duplicates`. Items and users are upserts.
 * - Dataset formats: `<dataset>:<user>:<item>:<index>` where index is the row's 0-based position in the
 *   source file (Last.fm tagging events: `lastfm-hetrec:tag:<user>:<artist>:<tagId>`).
 * - CSV/JSONL events: the row's own `id`; else, when the row has a timestamp, the content hash of
 *   `validate.ts`; else `imp_<hash(file name)>_<row index>_<hash(user, item)>` (stable while the file is
 *   unchanged).
 *
 * What each dataset becomes (timestamps are ms since the epoch; "synthetic" means only the order is real):
 * - movielens-1m, either layout of datasets.ts `resolveMl1m` (the GroupLens download as is, or ours):
 *   movies.dat (Latin-1) -> items (genres as tags, `year` attribute, createdAt = 1 Jan of the year,
 *   clamped to the epoch); users.dat -> users (gender, age code, occupation code, zip).
 *   ratings.dat -> `rating` events (value = stars, real timestamps), appended in time order; users'
 *   createdAt = their first rating. Without ratings.dat, derived/user_item_chronological.tsv -> `view`
 *   events: that file has no timestamps, so event k of the file gets 2000-01-01 + k seconds (each user's
 *   order is the true rating order, times across users are meaningless: no global temporal split on
 *   it), and users' createdAt is 2000-01-01.
 * - movielens-100k: u.item -> items (genres as tags, release date, year); u.user -> users (age, gender,
 *   occupation, zip; createdAt = first rating); u.data -> `rating` events (value = stars, real
 *   timestamps), appended in time order.
 * - lastfm-hetrec: artists.dat -> items (name as title, url attribute, the 10 most used tags);
 *   user_artists.dat -> `play` events with value = play count and synthetic timestamps
 *   (2011-01-01 + k seconds) in the per-user order described in datasets.ts; user_taggedartists.dat ->
 *   `tag` events at the tagging day (UTC) with context {tag, tagId}; tagging rows dated before 1970
 *   (a few say 1956) are rejected. user_friends.dat is skipped: user-user relations are not item events
 *   and the store has no social graph.
 * - sasrec / seqs: `view` events per user in file order, synthetic timestamps as for movielens-1m.
 *
 * Events whose item is in neither the store nor the dataset's catalog file create a minimal item (id
 * only, createdAt = its earliest event in the batch; `autoInsertItems`, default on), counted in
 * `itemsCreated`: an events-only file (sasrec, seqs, a click log) thus yields a servable catalog. With
 * `autoInsertItems: false` those events are rejected naming `itemId` (see unknown-items.ts).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { basename, dirname, join } from 'node:path';
import { parse as parseCsvStream } from 'csv-parse';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { ValidationError, type FieldIssue } from '../core/errors.js';
import { Id, LIMITS, type Event } from '../core/schemas.js';
import type { Store } from '../store/types.js';
import {
  DatasetFormat,
  countLines,
  eachLine,
  eachTsvRow,
  firstTagDates,
  lastfmOrder,
  parseMoviesDat,
  parseRatingsDat,
  parseUGenre,
  parseUItem,
  parseUserArtists,
  readDataset,
  resolveMl1m,
  topTagsPerArtist,
  type RatingsDat,
} from './datasets.js';
import { Ingestor } from './ingestor.js';
import { resolveUnknownItems } from './unknown-items.js';
import type { BatchResult, RejectedRow } from './types.js';

export const ImportKind = z.enum(['items', 'users', 'events']);
export type ImportKind = z.infer<typeof ImportKind>;

export interface ImportProgress {
  done: number;
  total: number;
  unit: 'bytes' | 'rows';
}

export interface ImportOptions {
  /** For csv/jsonl: what the rows are (default events). Not allowed for dataset formats. */
  kind?: ImportKind;
  onProgress?: (p: ImportProgress) => void;
  /** Rows per transaction (default 5,000; at most LIMITS.batchSize). */
  batchSize?: number;
  clock?: Clock;
  /**
   * Events whose item is in neither the store nor this import's catalog file create a minimal item
   * (default true); false rejects them with a reason naming `itemId` (see unknown-items.ts).
   */
  autoInsertItems?: boolean;
}

export interface ImportSummary {
  file: string;
  format: DatasetFormat;
  kind?: ImportKind;
  /** Items / users upserted. */
  items: number;
  users: number;
  /** Events newly appended (duplicates excluded). */
  events: number;
  /** Items created because events referenced ids not in the catalog (autoInsertItems). */
  itemsCreated: number;
  /** Events already stored (a re-run or overlapping files). */
  duplicates: number;
  /** Rows rejected by validation. */
  rejected: number;
  /** The first rejected rows, with paths, for the report. */
  issues: RejectedRow[];
  /** Source files deliberately not imported, with the reason. */
  skipped: string[];
  seconds: number;
  eventsPerSec: number;
}

const DEFAULT_BATCH = 5_000;
const MAX_REPORTED_ISSUES = 20;
const ML_BASE_MS = Date.UTC(2000, 0, 1);
const LASTFM_BASE_MS = Date.UTC(2011, 0, 1);

/** Running totals of one import. */
class Tally {
  items = 0;
  itemsCreated = 0;
  users = 0;
  events = 0;
  duplicates = 0;
  rejected = 0;
  issues: RejectedRow[] = [];
  skipped: string[] = [];
  reject(rows: RejectedRow[]): void {
    this.rejected += rows.length;
    for (const r of rows) if (this.issues.length < MAX_REPORTED_ISSUES) this.issues.push(r);
  }
  add(kind: ImportKind, r: BatchResult): void {
    if (kind === 'events') {
      this.events += r.accepted - r.duplicates;
      this.duplicates += r.duplicates;
      this.itemsCreated += r.itemsCreated ?? 0;
    } else if (kind === 'items') this.items += r.accepted;
    else this.users += r.accepted;
    this.reject(r.rejected);
  }
}

/** Buffers trusted, already-shaped events and appends them one transaction per batch. */
class EventSink {
  private buf: Event[] = [];
  private bufIndexes: number[] = [];
  private bufSources: string[] = [];
  private readonly idOk = new Map<string, string | undefined>();
  /** Item ids known to be in the catalog, so each is looked up once per import. */
  private readonly knownItems = new Set<string>();
  constructor(
    private readonly ctx: Ctx,
    private readonly tally: Tally = ctx.tally,
  ) {}

  /** Checks an external id once (the ids repeat across many rows). Returns the problem, if any. */
  private idProblem(id: string): string | undefined {
    if (this.idOk.has(id)) return this.idOk.get(id);
    const r = Id.safeParse(id);
    const problem = r.success ? undefined : r.error.issues[0].message;
    this.idOk.set(id, problem);
    return problem;
  }

  /** `index` is the row's position in its source, named by `source` in issue paths. */
  async push(e: Event, index: number, source = 'events'): Promise<void> {
    const issues: FieldIssue[] = [];
    const pu = this.idProblem(e.userId);
    if (pu) issues.push({ path: `${source}[${index}].userId`, message: pu });
    const pi = this.idProblem(e.itemId);
    if (pi) issues.push({ path: `${source}[${index}].itemId`, message: pi });
    if (!(e.timestamp >= 0)) issues.push({ path: `${source}[${index}].timestamp`, message: 'must be at or after 1970-01-01' });
    if (issues.length) {
      this.tally.reject([{ index, issues }]);
      return;
    }
    this.buf.push(e);
    this.bufIndexes.push(index);
    this.bufSources.push(source);
    if (this.buf.length >= this.ctx.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const sources = this.bufSources;
    const u = await resolveUnknownItems(this.ctx.store, this.buf, this.bufIndexes, {
      autoInsertItems: this.ctx.autoInsertItems,
      field: (k) => sources[k],
      known: this.knownItems,
    });
    this.tally.itemsCreated += u.created.length;
    this.tally.reject(u.rejected);
    if (u.events.length > 0) {
      const r = await this.ctx.store.appendEvents(u.events);
      this.tally.events += r.written;
      this.tally.duplicates += r.duplicates;
      // Events of deleted users or items, or deleted ids, stay out (the store's tombstones).
      this.tally.reject(r.refused.map((x) => {
        const k = u.positions[x.index];
        return { index: this.bufIndexes[k], issues: [{ path: `${sources[k]}[${this.bufIndexes[k]}].${x.field}`, message: x.message }] };
      }));
    }
    this.buf = [];
    this.bufIndexes = [];
    this.bufSources = [];
  }
}

/** Imports `path` into `store`. Throws ValidationError naming `format`, `kind` or `path` for bad options. */
export async function importFile(
  store: Store,
  path: string,
  format: DatasetFormat,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  const fmt = DatasetFormat.safeParse(format);
  if (!fmt.success) {
    throw new ValidationError(`unknown format '${String(format)}'`, [
      { path: 'format', message: `must be one of ${DatasetFormat.options.join(', ')}` },
    ]);
  }
  if (opts.kind !== undefined) {
    const k = ImportKind.safeParse(opts.kind);
    if (!k.success) {
      throw new ValidationError(`unknown kind '${String(opts.kind)}'`, [
        { path: 'kind', message: `must be one of ${ImportKind.options.join(', ')}` },
      ]);
    }
    if (fmt.data !== 'csv' && fmt.data !== 'jsonl') {
      throw new ValidationError(`--kind applies to csv and jsonl only; ${fmt.data} imports all its files`, [
        { path: 'kind', message: 'only for csv/jsonl' },
      ]);
    }
  }
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > LIMITS.batchSize) {
    throw new ValidationError(`batchSize must be in 1..${LIMITS.batchSize}`, [{ path: 'batchSize', message: `must be in 1..${LIMITS.batchSize}` }]);
  }
  if (!existsSync(path)) {
    throw new ValidationError(`no such file or directory: ${path}`, [{ path: 'path', message: 'not found' }]);
  }
  const ctx: Ctx = {
    store,
    path,
    batchSize,
    clock: opts.clock ?? systemClock,
    tally: new Tally(),
    progress: opts.onProgress ?? (() => {}),
    autoInsertItems: opts.autoInsertItems ?? true,
  };
  const started = performance.now();
  const kind = fmt.data === 'csv' || fmt.data === 'jsonl' ? (opts.kind ?? 'events') : undefined;
  switch (fmt.data) {
    case 'csv':
      await importCsv(ctx, kind!);
      break;
    case 'jsonl':
      await importJsonl(ctx, kind!);
      break;
    case 'movielens-1m':
      await importMovielens1m(ctx);
      break;
    case 'movielens-100k':
      await importMovielens100k(ctx);
      break;
    case 'lastfm-hetrec':
      await importLastfm(ctx);
      break;
    case 'sasrec':
    case 'seqs':
      await importSequences(ctx, fmt.data);
      break;
  }
  const seconds = (performance.now() - started) / 1000;
  const t = ctx.tally;
  return {
    file: path,
    format: fmt.data,
    ...(kind ? { kind } : {}),
    items: t.items,
    itemsCreated: t.itemsCreated,
    users: t.users,
    events: t.events,
    duplicates: t.duplicates,
    rejected: t.rejected,
    issues: t.issues,
    skipped: t.skipped,
    seconds: Math.round(seconds * 1000) / 1000,
    eventsPerSec: seconds > 0 ? Math.round((t.events + t.duplicates) / seconds) : 0,
  };
}

interface Ctx {
  store: Store;
  path: string;
  batchSize: number;
  clock: Clock;
  tally: Tally;
  progress: (p: ImportProgress) => void;
  autoInsertItems: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Generic CSV / JSONL

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('base64url').slice(0, 27);
}

/** Gives an event row without `id` and `timestamp` a positional id (see the file header). */
function withPositionalId(raw: unknown, file: string, index: number): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const r = raw as Record<string, unknown>;
  if (r.id !== undefined || r.timestamp !== undefined) return raw;
  // File tag + zero-padded row index keep the ids in insert order (cheap appends to the unique index);
  // the user/item hash makes an edited file produce new ids rather than false duplicates.
  const fileTag = shortHash(file).slice(0, 8);
  const row = index.toString(36).padStart(8, '0');
  return { ...r, id: `imp_${fileTag}_${row}_${shortHash(JSON.stringify([r.userId ?? null, r.itemId ?? null])).slice(0, 10)}` };
}

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const NUMBER_FIELDS = new Set(['value', 'position', 'timestamp', 'createdAt', 'expiresAt']);

/**
 * CSV cells are strings; this maps them onto the JSON shape the schemas expect. Empty cells are absent;
 * `tags` is `|`-separated; numeric columns (value, position, timestamp, createdAt, expiresAt) become numbers
 * when numeric (ISO dates stay strings); `available` accepts true/false/1/0; `attributes`/`context` may
 * hold a JSON object; a column `attributes.<name>` sets one attribute (numbers when numeric).
 */
export function csvRecordToRow(rec: Record<string, string>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [col, cell] of Object.entries(rec)) {
    if (cell === '' || cell === undefined) continue;
    if (col.startsWith('attributes.')) {
      const attrs = (row.attributes ??= {}) as Record<string, unknown>;
      attrs[col.slice('attributes.'.length)] = NUMERIC.test(cell) ? Number(cell) : cell;
    } else if (NUMBER_FIELDS.has(col) && NUMERIC.test(cell)) {
      row[col] = Number(cell);
    } else if (col === 'tags') {
      row.tags = cell.split('|').map((t) => t.trim()).filter((t) => t !== '');
    } else if (col === 'available') {
      row.available = cell === 'true' || cell === '1' ? true : cell === 'false' || cell === '0' ? false : cell;
    } else if ((col === 'attributes' || col === 'context') && cell.startsWith('{')) {
      try {
        const parsed = JSON.parse(cell) as unknown;
        row[col] = col === 'attributes' && row.attributes ? { ...(parsed as object), ...(row.attributes as object) } : parsed;
      } catch {
        row[col] = cell; // the schema rejects it with its path
      }
    } else {
      row[col] = cell;
    }
  }
  return row;
}

/** Collects rows into batches and hands them to the Ingestor. */
class RowBatcher {
  private rows: unknown[] = [];
  private indexes: number[] = [];
  private readonly ingestor: Ingestor;
  constructor(
    private readonly ctx: Ctx,
    private readonly kind: ImportKind,
  ) {
    this.ingestor = new Ingestor(ctx.store, {}, { clock: ctx.clock, autoInsertItems: ctx.autoInsertItems });
  }
  async push(row: unknown, index: number): Promise<void> {
    this.indexes.push(index);
    this.rows.push(this.kind === 'events' ? withPositionalId(row, basename(this.ctx.path), index) : row);
    if (this.rows.length >= this.ctx.batchSize) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const opts = { indexes: this.indexes };
    const r =
      this.kind === 'items'
        ? await this.ingestor.ingestItems(this.rows, opts)
        : this.kind === 'users'
          ? await this.ingestor.ingestUsers(this.rows, opts)
          : await this.ingestor.ingestEvents(this.rows, opts);
    this.ctx.tally.add(this.kind, r);
    this.rows = [];
    this.indexes = [];
  }
}

async function importCsv(ctx: Ctx, kind: ImportKind): Promise<void> {
  const total = statSync(ctx.path).size;
  const input = createReadStream(ctx.path);
  const parser = input.pipe(parseCsvStream({ columns: true, bom: true, skip_empty_lines: true, trim: true }));
  const batcher = new RowBatcher(ctx, kind);
  let index = 0;
  try {
    for await (const rec of parser as AsyncIterable<Record<string, string>>) {
      await batcher.push(csvRecordToRow(rec), index++);
      if (index % ctx.batchSize === 0) ctx.progress({ done: input.bytesRead, total, unit: 'bytes' });
    }
  } catch (e) {
    if (e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('CSV_')) {
      throw new ValidationError(`${basename(ctx.path)}: ${e.message}`, [{ path: 'file', message: e.message }]);
    }
    throw e;
  }
  await batcher.flush();
  ctx.progress({ done: total, total, unit: 'bytes' });
}

async function importJsonl(ctx: Ctx, kind: ImportKind): Promise<void> {
  const total = statSync(ctx.path).size;
  const input = createReadStream(ctx.path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const batcher = new RowBatcher(ctx, kind);
  let index = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      ctx.tally.reject([{ index, issues: [{ path: `${kind}[${index}]`, message: 'not valid JSON' }] }]);
      index++;
      continue;
    }
    await batcher.push(row, index++);
    if (index % ctx.batchSize === 0) ctx.progress({ done: input.bytesRead, total, unit: 'bytes' });
  }
  await batcher.flush();
  ctx.progress({ done: total, total, unit: 'bytes' });
}

// ---------------------------------------------------------------------------------------------------
// Dataset layouts

/** Sends small catalogs (items, users) through the validating Ingestor in batches. */
async function ingestAll(ctx: Ctx, kind: 'items' | 'users', rows: unknown[]): Promise<void> {
  const ing = new Ingestor(ctx.store, {}, { clock: ctx.clock });
  for (let i = 0; i < rows.length; i += ctx.batchSize) {
    const chunk = rows.slice(i, i + ctx.batchSize);
    const r = kind === 'items' ? await ing.ingestItems(chunk, { indexOffset: i }) : await ing.ingestUsers(chunk, { indexOffset: i });
    ctx.tally.add(kind, r);
  }
}

function requireFile(path: string, what: string): string {
  if (!existsSync(path)) throw new ValidationError(`missing ${what}: ${path}`, [{ path: 'path', message: `needs ${what}` }]);
  return path;
}

function dirOf(path: string): string {
  return statSync(path).isDirectory() ? path : dirname(path);
}

function yearOf(title: string): number | undefined {
  const m = /\((\d{4})\)\s*$/.exec(title);
  return m ? Number(m[1]) : undefined;
}

function yearStartMs(year: number | undefined): number {
  return year === undefined ? 0 : Math.max(0, Date.UTC(year, 0, 1));
}

async function importMovielens1m(ctx: Ctx): Promise<void> {
  const layout = resolveMl1m(ctx.path);
  if (layout.movies) {
    const movies = parseMoviesDat(await readFile(layout.movies, 'latin1'), layout.movies);
    const rows = [...movies].map(([id, m]) => {
      const year = yearOf(m.title);
      return { id, title: m.title, tags: m.tags, attributes: year ? { year } : {}, createdAt: yearStartMs(year) };
    });
    await ingestAll(ctx, 'items', rows);
  }
  // ratings.dat first (when present): a user's first rating time is their createdAt.
  const ratings = layout.ratings ? await readRatingsDat(ctx, layout.ratings) : undefined;
  if (layout.users) {
    const rows: unknown[] = [];
    eachLine(await readFile(layout.users, 'latin1'), (line) => {
      const [id, gender, age, occupation, zip] = line.split('::');
      const createdAt = ratings ? (ratings.firstSeenMs.get(id) ?? 0) : ML_BASE_MS;
      rows.push({ id, attributes: { gender, age: Number(age), occupation: Number(occupation), zip: zip ?? '' }, createdAt });
    });
    await ingestAll(ctx, 'users', rows);
  }
  if (ratings) await importRatingsDat(ctx, ratings.r, ratings.order);
  else await importMl1mTsv(ctx, layout.tsv!);
}

/** Parses ratings.dat (bad lines rejected) and orders its rows by time, ties in file order. */
async function readRatingsDat(ctx: Ctx, file: string): Promise<{ r: RatingsDat; order: Int32Array; firstSeenMs: Map<string, number> }> {
  const bad: RejectedRow[] = [];
  const r = parseRatingsDat(await readFile(file, 'latin1'), (row) => {
    bad.push({ index: row, issues: [{ path: `events[${row}]`, message: 'expected `UserID::MovieID::Rating::Timestamp`' }] });
  });
  ctx.tally.reject(bad);
  const order = new Int32Array(r.n); // [n] entries in time order
  for (let i = 0; i < r.n; i++) order[i] = i;
  order.sort((a, b) => r.seconds[a] - r.seconds[b] || a - b);
  const firstSeenMs = new Map<string, number>();
  for (const i of order) {
    const u = r.users.ids[r.userIx[i]];
    if (!firstSeenMs.has(u)) firstSeenMs.set(u, r.seconds[i] * 1000);
  }
  return { r, order, firstSeenMs };
}

/** ratings.dat rows -> `rating` events (value = stars, real times), appended in time order. */
async function importRatingsDat(ctx: Ctx, r: RatingsDat, order: Int32Array): Promise<void> {
  const sink = new EventSink(ctx);
  for (let k = 0; k < r.n; k++) {
    const i = order[k];
    const userId = r.users.ids[r.userIx[i]];
    const itemId = r.items.ids[r.itemIx[i]];
    await sink.push(
      { id: `movielens-1m:${userId}:${itemId}:${r.row[i]}`, userId, itemId, type: 'rating', value: r.stars[i], timestamp: r.seconds[i] * 1000 },
      r.row[i],
    );
    if (k % ctx.batchSize === 0) ctx.progress({ done: k, total: r.n, unit: 'rows' });
  }
  await sink.flush();
  ctx.progress({ done: r.n, total: r.n, unit: 'rows' });
}

/** The derived tsv -> `view` events with synthetic times (see the file header). */
async function importMl1mTsv(ctx: Ctx, tsv: string): Promise<void> {
  // Walk the tsv in place (no per-line array); row i is the i-th non-empty line.
  const text = await readFile(tsv, 'utf8');
  const total = countLines(text);
  const sink = new EventSink(ctx);
  let start = 0;
  let i = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop > start) {
      const tab = text.indexOf('\t', start);
      if (tab <= start || tab >= stop - 1) {
        ctx.tally.reject([{ index: i, issues: [{ path: `events[${i}]`, message: 'expected `user<TAB>item`' }] }]);
      } else {
        const userId = text.slice(start, tab);
        const itemId = text.slice(tab + 1, stop);
        await sink.push({ id: `movielens-1m:${userId}:${itemId}:${i}`, userId, itemId, type: 'view', timestamp: ML_BASE_MS + i * 1000 }, i);
      }
      if (++i % ctx.batchSize === 0) ctx.progress({ done: i, total, unit: 'rows' });
    }
    start = end + 1;
  }
  await sink.flush();
  ctx.progress({ done: i, total: i, unit: 'rows' });
}

async function importMovielens100k(ctx: Ctx): Promise<void> {
  const dir = dirOf(ctx.path);
  const dataPath = requireFile(statSync(ctx.path).isDirectory() ? join(dir, 'u.data') : ctx.path, 'u.data');

  // u.data first: the users' first rating time is their createdAt, and events go in time order.
  const text = await readFile(dataPath, 'utf8');
  const cap = countLines(text);
  const fields: string[][] = [];
  const ts = new Float64Array(cap); // [rows] seconds
  const bad: RejectedRow[] = [];
  let row = 0;
  eachLine(text, (line) => {
    const f = line.split('\t');
    const t = Number(f[3]);
    const stars = Number(f[2]);
    if (f.length !== 4 || !Number.isFinite(t) || !Number.isFinite(stars)) {
      bad.push({ index: row, issues: [{ path: `events[${row}]`, message: 'expected `user<TAB>item<TAB>rating<TAB>unix-seconds`' }] });
      fields.push([]);
    } else fields.push(f);
    ts[row++] = t;
  });
  ctx.tally.reject(bad);
  const order = Array.from({ length: row }, (_, i) => i).filter((i) => fields[i].length === 4);
  order.sort((a, b) => ts[a] - ts[b] || a - b);
  const firstSeen = new Map<string, number>();
  for (const i of order) if (!firstSeen.has(fields[i][0])) firstSeen.set(fields[i][0], ts[i] * 1000);

  const itemPath = join(dir, 'u.item');
  if (existsSync(itemPath)) {
    const genrePath = join(dir, 'u.genre');
    const genres = existsSync(genrePath) ? parseUGenre(await readFile(genrePath, 'latin1')) : undefined;
    const items = parseUItem(await readFile(itemPath, 'latin1'), genres ?? ML100K_GENRES_FALLBACK);
    const rows = [...items].map(([id, m]) => {
      const released = m.release ? Date.parse(`${m.release} UTC`) : NaN;
      const year = yearOf(m.title) ?? (Number.isFinite(released) ? new Date(released).getUTCFullYear() : undefined);
      const attributes: Record<string, string | number> = {};
      if (year) attributes.year = year;
      if (m.release) attributes.release = m.release;
      return { id, title: m.title, tags: m.tags, attributes, createdAt: Number.isFinite(released) && released >= 0 ? released : yearStartMs(year) };
    });
    await ingestAll(ctx, 'items', rows);
  }
  const userPath = join(dir, 'u.user');
  if (existsSync(userPath)) {
    const rows: unknown[] = [];
    eachLine(await readFile(userPath, 'latin1'), (line) => {
      const [id, age, gender, occupation, zip] = line.split('|');
      rows.push({ id, attributes: { age: Number(age), gender, occupation, zip: zip ?? '' }, createdAt: firstSeen.get(id) ?? 0 });
    });
    await ingestAll(ctx, 'users', rows);
  }

  const sink = new EventSink(ctx);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const [userId, itemId, stars] = fields[i];
    await sink.push(
      { id: `movielens-100k:${userId}:${itemId}:${i}`, userId, itemId, type: 'rating', value: Number(stars), timestamp: ts[i] * 1000 },
      i,
    );
    if (k % ctx.batchSize === 0) ctx.progress({ done: k, total: order.length, unit: 'rows' });
  }
  await sink.flush();
  ctx.progress({ done: order.length, total: order.length, unit: 'rows' });
}

const ML100K_GENRES_FALLBACK = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama',
  'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

async function importLastfm(ctx: Ctx): Promise<void> {
  const dir = dirOf(ctx.path);
  const uaPath = requireFile(join(dir, 'user_artists.dat'), 'user_artists.dat');
  const taggedPath = join(dir, 'user_taggedartists.dat');
  const tagged = existsSync(taggedPath) ? await readFile(taggedPath, 'latin1') : '';
  const tagNames = new Map<string, string>();
  const tagsPath = join(dir, 'tags.dat');
  if (existsSync(tagsPath)) eachTsvRow(await readFile(tagsPath, 'latin1'), tagsPath, 2, (f) => tagNames.set(f[0], f[1]));

  const artistsPath = join(dir, 'artists.dat');
  if (existsSync(artistsPath)) {
    const topTags = tagged ? topTagsPerArtist(tagged, tagNames, 10, taggedPath) : new Map<string, string[]>();
    const rows: unknown[] = [];
    eachTsvRow(await readFile(artistsPath, 'utf8'), artistsPath, 2, (f) => {
      // A few free-text tags exceed the tag length limit; they are dropped rather than rejecting the artist.
      const tags = (topTags.get(f[0]) ?? []).filter((t) => t.length <= LIMITS.tagLength);
      rows.push({ id: f[0], title: f[1], tags, attributes: f[2] ? { url: f[2] } : {}, createdAt: 0 });
    });
    await ingestAll(ctx, 'items', rows);
  }

  const ua = parseUserArtists(await readFile(uaPath, 'utf8'), tagged ? firstTagDates(tagged, taggedPath) : new Map(), uaPath);
  const userIds = new Set(ua.users.ids);
  if (tagged) eachTsvRow(tagged, taggedPath, 6, (f) => userIds.add(f[0]));
  await ingestAll(ctx, 'users', [...userIds].map((id) => ({ id, createdAt: 0 })));

  const { order } = lastfmOrder(ua.userIx, ua.dates, ua.weights, ua.n, ua.users.size);
  const total = ua.n;
  const sink = new EventSink(ctx);
  for (let k = 0; k < ua.n; k++) {
    const i = order[k];
    const userId = ua.users.ids[ua.userIx[i]];
    const itemId = ua.items.ids[ua.itemIx[i]];
    await sink.push(
      { id: `lastfm-hetrec:${userId}:${itemId}:${i}`, userId, itemId, type: 'play', value: ua.weights[i], timestamp: LASTFM_BASE_MS + k * 1000 },
      i,
      'user_artists',
    );
    if (k % ctx.batchSize === 0) ctx.progress({ done: k, total, unit: 'rows' });
  }
  if (tagged) {
    const rows: Event[] = [];
    eachTsvRow(tagged, taggedPath, 6, (f) => {
      rows.push({
        id: `lastfm-hetrec:tag:${f[0]}:${f[1]}:${f[2]}`,
        userId: f[0],
        itemId: f[1],
        type: 'tag',
        timestamp: Date.UTC(Number(f[5]), Number(f[4]) - 1, Number(f[3])),
        context: { tag: tagNames.get(f[2]) ?? f[2], tagId: Number(f[2]) },
      });
    });
    for (let j = 0; j < rows.length; j++) await sink.push(rows[j], j, 'user_taggedartists');
  }
  await sink.flush();
  ctx.progress({ done: total, total, unit: 'rows' });
  if (existsSync(join(dir, 'user_friends.dat'))) {
    ctx.tally.skipped.push('user_friends.dat: user-user friendships are not item events and the store has no social graph');
  }
}

async function importSequences(ctx: Ctx, format: 'sasrec' | 'seqs'): Promise<void> {
  const ds = await readDataset(ctx.path, format);
  const { offsets, items, numUsers } = ds.seqs;
  const sink = new EventSink(ctx);
  const total = items.length;
  for (let u = 0; u < numUsers; u++) {
    const userId = ds.userIds[u];
    for (let j = offsets[u]; j < offsets[u + 1]; j++) {
      const itemId = ds.itemIds[items[j]];
      await sink.push({ id: `${ds.name}:${userId}:${itemId}:${j}`, userId, itemId, type: 'view', timestamp: ML_BASE_MS + j * 1000 }, j);
      if (j % ctx.batchSize === 0) ctx.progress({ done: j, total, unit: 'rows' });
    }
  }
  await sink.flush();
  ctx.progress({ done: total, total, unit: 'rows' });
}
