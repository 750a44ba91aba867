/**
 * Served quality: what users get over HTTP from the real `tastemaker serve`, before and after one trainer
 * round, next to the offline figure of the same trained models on the same held-out items.
 *
 *   1. Split: the dataset is read by the eval readers (src/ingest/datasets.ts) and split by `loo-full`
 *      (src/eval/protocols.ts): per user with ≥ 3 items the last item is held out; the rest (train + the
 *      validation item, eval's test history) is what the store gets. Users with fewer items go in whole
 *      and are not evaluated. So the held-out item is exactly the one `eval --protocol loo-full` tests.
 *   2. Import into a fresh SQLite store in a temp dir through `importFile` (what `tastemaker import`
 *      runs): the training part is written as a sasrec file (`user item` lines, per-user order kept) and
 *      imported as such; the catalog — every item of the dataset, with the titles/tags it has — as an items
 *      JSONL file, because the sasrec import writes events only. `--data demo`: the synthetic world of
 *      src/core/synth.ts (as `tastemaker demo` generates it), held out through `syntheticToDataset` (a
 *      user's last positive item; every event from that item's first event on is withheld); items and
 *      events are imported as JSONL with their types, sessions and times.
 *   3. heuristic: the server with no trained model; `GET /v1/recommend/<user>?n=10` (home) and
 *      `?surface=next&n=10` for every evaluated user (`--concurrency` requests in flight).
 *   4. trainer round: `tastemaker train --all --max-minutes M` (bench/lib/train-round.ts; `--train-params`
 *      become the config's `trainer.params`).
 *   5. served: the server again over the same store and data dir, once /healthz lists the activated
 *      versions in modelVersions; the same queries.
 *   6. offline (`--skip-offline` to skip): each activated model's artifact (twotower, sasrec) loaded from
 *      the registry and scored over the whole catalog for the same users and held-out items by the eval
 *      harness (`evaluateQueries`: full ranking, the user's stored history masked, pessimistic ties) — the
 *      offline figure of exactly the models that serve, without training them a second time — and, when a
 *      `blend` version is active, the served mix of the two (its weights · per-user z-scores). The headline
 *      `offline.*` is the blend when active, else the member with the better validation NDCG@10
 *      (`offline.model`); each one's own figures are `offline.<model>.*`. Offline has no surfaces: it is
 *      one full ranking per user. A held-out item the user already consumed (repeat consumption:
 *      `repeatTargets`) counts as a miss in `offline.*`, as it must in the served lists, which exclude
 *      the history; eval's harness ranks such a target anyway (it masks the history but the target), which
 *      `offline.eval.*` reports — on data with repeats (the synthetic world) the two differ a lot.
 *
 * HR@10 = share of evaluated users whose held-out item is among the 10 served items; NDCG@10 =
 * 1/log2(rank + 2) at the 0-based rank (src/eval/metrics.ts). A held-out item the catalog does not know,
 * or a failed request, is a miss (counted in unknownTargets / errors). The served lists exclude what the
 * user consumed, as loo-full masks the history (but see repeatTargets under 6).
 *
 *   tastemaker bench served --json [--data <file|dir|demo>] [--format sasrec|movielens-1m|lastfm-hetrec|…]
 *       [--max-minutes 30] [--users N] [--seed 1] [--keep DIR] [--skip-heuristic] [--skip-offline]
 *   --keep DIR keeps the store and models; a later run with the same --keep, --data, --format and --seed
 *   reuses them (no import, no training) — to compare engine configs (--config) on the same models.
 *       [--concurrency 8] [--config '<engine JSON>'] [--train-params '{"<model>":{…}}'] [--demo-users 2000 --demo-items 5000 --demo-events-per-user 100]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/core/progress.js';
import type { InteractionDataset, Sequences } from '../src/core/dataset.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { DEFAULT_EVENT_WEIGHTS, LIMITS, type Event } from '../src/core/schemas.js';
import { generateSynthetic, syntheticToDataset } from '../src/core/synth.js';
import { loadTrainingData } from '../src/train/data.js';
import { evaluateQueries, type Queries } from '../src/eval/evaluate.js';
import { hitAt, ndcgAt } from '../src/eval/metrics.js';
import { split, type EvalSplit } from '../src/eval/protocols.js';
import { DatasetFormat, readDataset } from '../src/ingest/datasets.js';
import { importFile, type ImportSummary } from '../src/ingest/import.js';
import { standardizeRows } from '../src/models/blend.js';
import { ModelRegistry } from '../src/registry/index.js';
import { SasrecRecommender } from '../src/models/sasrec-train.js';
import { TwoTowerRecommender } from '../src/models/twotower-train.js';
import type { Recommender } from '../src/models/types.js';
import { openStore } from '../src/store/index.js';
import { startServe } from './lib/children.js';
import { trainRound } from './lib/train-round.js';

const ADMIN_KEY = 'bench-served-admin-key-0123456789abcdef';
const CLIENT_KEY = 'bench-served-client-key-0123456789abcdef';
const DAY = 86_400_000;
/** Catalog items of dataset formats get this creation time (the sasrec import's event times start here too). */
const ITEM_CREATED_MS = Date.UTC(2000, 0, 1);
const K = 10;
/** The rank of a miss: never < K. */
const MISS = Number.MAX_SAFE_INTEGER;
/** Longest wait for /healthz to list the trained versions after the server listens. */
const MODELS_WAIT_MS = 120_000;
const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

export interface ServedOptions {
  /** Dataset path, or 'demo' for the synthetic world. */
  data: string;
  format: DatasetFormat;
  maxMinutes: number;
  /** Evaluate a seeded random subset of this many tested users (default: all). */
  users?: number;
  seed: number;
  /** Keep the work dir (store, models) here instead of a deleted temp dir. */
  keep?: string;
  skipHeuristic: boolean;
  skipOffline: boolean;
  /** Requests in flight during a query phase. */
  concurrency: number;
  /** Engine config overrides for both servers (the config file's `engine`). */
  engineConfig?: Record<string, unknown>;
  demo: { users: number; items: number; eventsPerUser: number };
  /** Hyper-parameter overrides per model for the per-model train commands (their --params), e.g. small epochs in tests. */
  trainParams?: Record<string, Record<string, unknown>>;
  /** Progress lines (phases); default: stderr when it is a terminal. */
  log?: (m: string) => void;
}

/** The split as the bench uses it: the evaluated users and the held-out item of each. */
interface HeldOut {
  dataset: string;
  /** Tested users under loo-full (before --users sampling). */
  testedUsers: number;
  /** Evaluated users: external id and held-out item id. */
  queries: { userId: string; itemId: string }[];
  /** Writes the training part and the catalog into the store at dbPath via importFile. */
  importInto(dbPath: string, dir: string): Promise<ImportSummary[]>;
}

// ---------------------------------------------------------------------------------------------------
// 1–2. Split and import

function pickQueries(ds: InteractionDataset, s: EvalSplit, users: number | undefined, seed: number): { userId: string; itemId: string }[] {
  let order = Int32Array.from({ length: s.testUsers.length }, (_, t) => t);
  if (users !== undefined && users < order.length) order = new Rng(seed).shuffle(order).subarray(0, users).sort();
  // loo-full holds out exactly one item per tested user: testTargets[t] is user testUsers[t]'s.
  return Array.from(order, (t) => ({ userId: ds.userIds[s.testUsers[t]], itemId: ds.itemIds[s.testTargets[s.testTargetOffsets[t]]] }));
}

function assertPlainId(id: string, what: string): void {
  if (/\s/.test(id)) throw new ValidationError(`${what} id '${id}' contains whitespace; the sasrec text format cannot carry it`, [{ path: what, message: 'whitespace in id' }]);
}

async function fromDatasetFile(o: ServedOptions): Promise<HeldOut> {
  const ds = await readDataset(o.data, o.format);
  const s = split(ds, 'loo-full');
  const { testHistory: h } = s;
  return {
    dataset: ds.name,
    testedUsers: s.testUsers.length,
    queries: pickQueries(ds, s, o.users, o.seed),
    async importInto(dbPath, dir) {
      // The training part, per-user order kept: eval's test history (train + validation item).
      const lines: string[] = [];
      for (let u = 0; u < h.numUsers; u++) {
        assertPlainId(ds.userIds[u], 'user');
        for (let p = h.offsets[u]; p < h.offsets[u + 1]; p++) lines.push(`${ds.userIds[u]} ${ds.itemIds[h.items[p]]}`);
      }
      const trainFile = join(dir, 'train.sasrec.txt');
      writeFileSync(trainFile, lines.join('\n') + '\n');
      // The catalog: every item of the dataset (held-out-only items included, as eval scores all items).
      const rows = ds.itemIds.map((id, i) => {
        assertPlainId(id, 'item');
        const tags = (ds.itemTags?.[i] ?? []).filter((t) => t.length > 0 && t.length <= LIMITS.tagLength).slice(0, LIMITS.tagsPerItem);
        const title = (ds.itemTitles?.[i] ?? '').slice(0, LIMITS.titleLength);
        const creatorId = ds.itemCreators?.[i];
        return JSON.stringify({ id, title, tags, ...(creatorId ? { creatorId } : {}), createdAt: ITEM_CREATED_MS });
      });
      const itemsFile = join(dir, 'items.jsonl');
      writeFileSync(itemsFile, rows.join('\n') + '\n');
      return importAll(dbPath, [
        { file: trainFile, format: 'sasrec' },
        { file: itemsFile, format: 'jsonl', kind: 'items' },
      ]);
    },
  };
}

function fromDemo(o: ServedOptions): HeldOut {
  const days = 60;
  const data = generateSynthetic({
    seed: o.seed,
    users: o.demo.users,
    items: o.demo.items,
    creators: Math.max(1, Math.round(o.demo.items / 8)),
    days,
    eventsPerUser: o.demo.eventsPerUser,
    startMs: Math.floor(Date.now() / DAY) * DAY - days * DAY,
  });
  const ds = syntheticToDataset(data);
  const s = split(ds, 'loo-full');
  return {
    dataset: 'demo',
    testedUsers: s.testUsers.length,
    queries: pickQueries(ds, s, o.users, o.seed),
    async importInto(dbPath, dir) {
      // Withhold each tested user's held-out item from its first event on (syntheticToDataset collapses
      // consecutive positive events on one item into one step; the held-out step starts at that event).
      const heldOut = new Map<string, string>();
      for (let t = 0; t < s.testUsers.length; t++) heldOut.set(ds.userIds[s.testUsers[t]], ds.itemIds[s.testTargets[s.testTargetOffsets[t]]]);
      const byUser = new Map<string, Event[]>();
      for (const e of data.events) {
        let l = byUser.get(e.userId);
        if (!l) byUser.set(e.userId, (l = []));
        l.push(e);
      }
      const lines: string[] = [];
      for (const [userId, events] of byUser) {
        const target = heldOut.get(userId);
        let cut = events.length;
        if (target !== undefined) {
          // The start of the last positive run: walk back over the target's run (skips may sit inside it).
          let k = events.length - 1;
          while (k >= 0 && !(events[k].itemId === target && isPositive(events[k]))) k--;
          cut = k;
          for (let j = k - 1; j >= 0; j--) {
            if (!isPositive(events[j])) continue;
            if (events[j].itemId !== target) break;
            cut = j;
          }
          if (cut < 0) throw new Error(`demo: held-out item ${target} of ${userId} not found in its events`);
        }
        for (let k = 0; k < cut; k++) lines.push(JSON.stringify(events[k]));
      }
      const eventsFile = join(dir, 'events.jsonl');
      writeFileSync(eventsFile, lines.join('\n') + '\n');
      const itemsFile = join(dir, 'items.jsonl');
      writeFileSync(itemsFile, data.items.map((it) => JSON.stringify(it)).join('\n') + '\n');
      return importAll(dbPath, [
        { file: itemsFile, format: 'jsonl', kind: 'items' },
        { file: eventsFile, format: 'jsonl', kind: 'events' },
      ]);
    },
  };
}

/** Positive by the default event weights, as syntheticToDataset decides. */
function isPositive(e: Event): boolean {
  return (DEFAULT_EVENT_WEIGHTS[e.type] ?? 0) > 0;
}

async function importAll(dbPath: string, files: { file: string; format: DatasetFormat; kind?: 'items' | 'events' }[]): Promise<ImportSummary[]> {
  const store = await openStore(dbPath);
  try {
    const out: ImportSummary[] = [];
    for (const f of files) {
      const bar = createProgress(`import ${f.kind ?? f.format}`, 1);
      const r = await importFile(store, f.file, f.format, { kind: f.kind, onProgress: (p) => bar.update(p.done, p.total) });
      bar.stop();
      if (r.rejected > 0) {
        throw new Error(`import of ${f.file} rejected ${r.rejected} rows: ${JSON.stringify(r.issues.slice(0, 3))}`);
      }
      out.push(r);
    }
    return out;
  } finally {
    await store.close();
    // The files are derived from the dataset (licensed data included): they live only for the import.
    for (const f of files) rmSync(f.file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// 3/5. Query phases

interface SurfaceResult {
  'HR@10': number;
  'NDCG@10': number;
  errors: number;
  latency: { p50Ms: number; p90Ms: number; p99Ms: number; meanMs: number; maxMs: number };
}

function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Asks the server for every query's list on one surface; ranks of the held-out items → HR/NDCG@10. */
async function querySurface(url: string, queries: { userId: string; itemId: string }[], surface: 'home' | 'next', concurrency: number, known: Set<string>): Promise<SurfaceResult> {
  const ranks = new Float64Array(queries.length).fill(MISS);
  const latencyMs = new Float64Array(queries.length);
  let errors = 0;
  let next = 0;
  let done = 0;
  const bar = createProgress(`${surface}`, queries.length, { unit: 'users' });
  const query = surface === 'next' ? `surface=next&n=${K}` : `n=${K}`;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < queries.length; i = next++) {
      const q = queries[i];
      const t0 = performance.now();
      try {
        const r = await fetch(`${url}/v1/recommend/${encodeURIComponent(q.userId)}?${query}`, { headers: { 'x-api-key': CLIENT_KEY } });
        const body = (await r.json()) as { items?: { itemId: string }[] };
        latencyMs[i] = performance.now() - t0;
        if (r.status !== 200 || !Array.isArray(body.items)) errors++;
        else if (known.has(q.itemId)) {
          const pos = body.items.findIndex((it) => it.itemId === q.itemId);
          if (pos >= 0) ranks[i] = pos;
        }
      } catch {
        latencyMs[i] = performance.now() - t0;
        errors++;
      }
      bar.update(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queries.length) }, worker));
  bar.stop();
  let hr = 0;
  let ndcg = 0;
  const one = new Float64Array(1);
  for (let i = 0; i < queries.length; i++) {
    one[0] = ranks[i];
    hr += hitAt(one, 1, K);
    ndcg += ndcgAt(one, 1, K);
  }
  const sorted = Float64Array.from(latencyMs).sort();
  const mean = latencyMs.reduce((a, b) => a + b, 0) / Math.max(1, latencyMs.length);
  const n = Math.max(1, queries.length);
  return {
    'HR@10': round(hr / n),
    'NDCG@10': round(ndcg / n),
    errors,
    latency: { p50Ms: round(quantileSorted(sorted, 0.5), 2), p90Ms: round(quantileSorted(sorted, 0.9), 2), p99Ms: round(quantileSorted(sorted, 0.99), 2), meanMs: round(mean, 2), maxMs: round(sorted[sorted.length - 1] ?? 0, 2) },
  };
}

async function healthz(url: string): Promise<{ items: number; users: number; events: number; modelVersions: Record<string, string> }> {
  const r = await fetch(`${url}/healthz`);
  if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
  return (await r.json()) as { items: number; users: number; events: number; modelVersions: Record<string, string> };
}

/** Polls /healthz until every expected model (name → version) is listed; returns its modelVersions. */
async function waitForModels(url: string, expected: Record<string, string>): Promise<Record<string, string>> {
  const deadline = performance.now() + MODELS_WAIT_MS;
  for (;;) {
    const h = await healthz(url);
    const missing = Object.entries(expected).filter(([name, v]) => h.modelVersions[name] !== `${name}@${v}`);
    if (missing.length === 0) return h.modelVersions;
    if (performance.now() > deadline) {
      throw new Error(`the server did not load ${missing.map(([n, v]) => `${n}@${v}`).join(', ')} within ${MODELS_WAIT_MS / 1000} s (modelVersions ${JSON.stringify(h.modelVersions)})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function servePhase(
  o: ServedOptions,
  db: string,
  dataDir: string,
  queries: { userId: string; itemId: string }[],
  known: Set<string>,
  configFile: string | undefined,
  expectModels: Record<string, string>,
): Promise<{ home: SurfaceResult; next: SurfaceResult; modelVersions: Record<string, string>; serverStartSeconds: number }> {
  const server = await startServe({ db, dataDir, adminKey: ADMIN_KEY, clientKey: CLIENT_KEY, serveArgs: ['--no-search', ...(configFile ? ['--config', configFile] : [])] });
  try {
    const modelVersions = await waitForModels(server.url, expectModels);
    const home = await querySurface(server.url, queries, 'home', o.concurrency, known);
    const next = await querySurface(server.url, queries, 'next', o.concurrency, known);
    return { home, next, modelVersions, serverStartSeconds: server.startSeconds };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// 6. Offline figure of the served models

/**
 * Full-ranking HR/NDCG@10 of each active model (twotower, sasrec) on the evaluated users' held-out items,
 * by the eval harness. The model's index space is the train job's (loadTrainingData over the same store,
 * checked against the artifact's items.json/users.json); the query history is the user's stored positive
 * sequence (the train job's train part + its validation item), masked like eval's test history.
 */
async function offlineFigures(db: string, dataDir: string, queries: { userId: string; itemId: string }[]): Promise<{ figures: Record<string, Record<string, number>>; repeatTargets: number }> {
  const registry = new ModelRegistry(dataDir);
  const store = await openStore(db);
  let data: Awaited<ReturnType<typeof loadTrainingData>>;
  try {
    data = await loadTrainingData(store);
  } finally {
    await store.close();
  }
  const { train, validTargets } = data;
  // history = train + validation item per user: [numUsers] sequences in the model's index space.
  const lists: number[][] = [];
  for (let u = 0; u < train.numUsers; u++) {
    const l = Array.from(train.items.subarray(train.offsets[u], train.offsets[u + 1]));
    if (validTargets[u] >= 0) l.push(validTargets[u]);
    lists.push(l);
  }
  const offsets = new Int32Array(lists.length + 1);
  for (let u = 0; u < lists.length; u++) offsets[u + 1] = offsets[u] + lists[u].length;
  const items = new Int32Array(offsets[lists.length]);
  for (let u = 0; u < lists.length; u++) items.set(lists[u], offsets[u]);
  const histories = { numUsers: train.numUsers, numItems: train.numItems, offsets, items };
  const userIx = new Map(data.userIds.map((id, u) => [id, u]));
  const itemIx = new Map(data.itemIds.map((id, i) => [id, i]));
  // all: every query with a known user and item (eval's convention: a held-out item the user already
  // consumed is still ranked); fresh: those whose held-out item is not in the history — the only ones a
  // served list can hit, since it excludes what the user consumed.
  const all = { users: [] as number[], targets: [] as number[] };
  const fresh = { users: [] as number[], targets: [] as number[] };
  for (const q of queries) {
    const u = userIx.get(q.userId);
    const i = itemIx.get(q.itemId);
    if (u === undefined || i === undefined) continue; // a miss
    all.users.push(u);
    all.targets.push(i);
    if (lists[u].includes(i)) continue;
    fresh.users.push(u);
    fresh.targets.push(i);
  }
  const asQueries = (x: { users: number[]; targets: number[] }): Queries => ({ histories, users: Int32Array.from(x.users), targetOffsets: Int32Array.from({ length: x.users.length + 1 }, (_, t) => t), targets: Int32Array.from(x.targets) });
  // Averaged over all evaluated queries: the ones left out are misses.
  const mean = async (model: Recommender, x: { users: number[]; targets: number[] }): Promise<[number, number]> => {
    if (x.users.length === 0) return [0, 0];
    const m = await evaluateQueries(model, asQueries(x), { ks: [K], beyondAccuracy: false });
    const scale = x.users.length / Math.max(1, queries.length);
    return [round(Number(m['HR@10']) * scale), round(Number(m['NDCG@10']) * scale)];
  };
  const figures = async (model: Recommender, validNdcg10: number): Promise<Record<string, number>> => {
    const [hr, ndcg] = await mean(model, fresh);
    const [evalHr, evalNdcg] = await mean(model, all);
    return { 'HR@10': hr, 'NDCG@10': ndcg, 'eval.HR@10': evalHr, 'eval.NDCG@10': evalNdcg, validNdcg10 };
  };
  const out: Record<string, Record<string, number>> = {};
  const members: Partial<Record<'twotower' | 'sasrec', Recommender>> = {};
  try {
    for (const name of ['twotower', 'sasrec'] as const) {
      if (!registry.active(name)) continue;
      const art = registry.load(name);
      if (art.files?.['items.json'] !== JSON.stringify(data.itemIds) || art.files?.['users.json'] !== JSON.stringify(data.userIds)) {
        throw new Error(`${name} ${art.version} was trained on another catalog or user list than the store now holds`);
      }
      const model = name === 'sasrec' ? SasrecRecommender.fromArtifacts(art.config, art.weights) : TwoTowerRecommender.fromArtifacts(art.config, art.weights);
      members[name] = model;
      out[name] = await figures(model, art.metrics['valid.NDCG@10'] ?? 0);
    }
    const blend = registry.active('blend') ? registry.load('blend') : undefined;
    const weights = (blend?.config as { weights?: { twotower: number; sasrec: number } } | undefined)?.weights;
    if (blend && weights && members.twotower && members.sasrec) {
      out.blend = await figures(new ServedBlend(members.twotower, members.sasrec, weights), blend.metrics['valid.NDCG@10'] ?? 0);
    }
  } finally {
    for (const m of Object.values(members)) await m.dispose?.();
  }
  return { figures: out, repeatTargets: all.users.length - fresh.users.length };
}

/**
 * The served learned blend scored offline: weights · per-user z-standardised member scores (as
 * src/candidates/learned.ts mixes them), both members in the train job's one item space.
 */
class ServedBlend implements Recommender {
  readonly name = 'blend';
  private buf = new Float32Array(0);
  constructor(
    private readonly twotower: Recommender,
    private readonly sasrec: Recommender,
    private readonly weights: { twotower: number; sasrec: number },
  ) {}
  fit(): Promise<never> {
    throw new Error('ServedBlend only scores');
  }
  async scoreBatch(histories: Sequences, userIxs: Int32Array, out: Float32Array): Promise<void> {
    const n = histories.numItems;
    const rows = userIxs.length;
    // buf: [B, numItems] the SASRec scores; out: [B, numItems] the two-tower's, then the mix.
    if (this.buf.length < rows * n) this.buf = new Float32Array(rows * n);
    const buf = this.buf.subarray(0, rows * n);
    await this.twotower.scoreBatch(histories, userIxs, out);
    await this.sasrec.scoreBatch(histories, userIxs, buf);
    standardizeRows(out, rows, n);
    standardizeRows(buf, rows, n);
    const { twotower: wt, sasrec: ws } = this.weights;
    for (let j = 0; j < rows * n; j++) out[j] = wt * out[j] + ws * buf[j];
  }
}

// ---------------------------------------------------------------------------------------------------

export async function runServed(o: ServedOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? ((m: string) => process.stderr.isTTY && console.error(`served: ${m}`));
  const t0 = performance.now();
  const world = o.data === 'demo' ? fromDemo(o) : await fromDatasetFile(o);
  if (world.queries.length === 0) throw new ValidationError('no user has 3 or more items: nothing to evaluate', [{ path: '--data', message: 'no tested users' }]);
  const dir = o.keep ? resolve(o.keep) : mkdtempSync(join(tmpdir(), 'tastemaker-bench-served-'));
  // --keep DIR of an earlier run on the same data: reuse its store and trained models (e.g. to compare
  // engine configs on the same models); any other non-empty DIR is refused.
  const worldKey = JSON.stringify({ data: o.data === 'demo' ? 'demo' : resolve(o.data), format: o.format, seed: o.seed, ...(o.data === 'demo' ? { demo: o.demo } : {}) });
  const metaFile = join(dir, 'served.json');
  let reuse = false;
  if (o.keep) {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      reuse = existsSync(metaFile) && (JSON.parse(readFileSync(metaFile, 'utf8')) as { world?: string }).world === worldKey;
      if (!reuse) throw new ValidationError(`--keep ${dir} is neither empty nor a bench served dir of the same data`, [{ path: '--keep', message: 'use a new or empty directory, or one kept from the same --data/--format/--seed' }]);
    }
    mkdirSync(dir, { recursive: true });
  }
  const db = join(dir, 'served.db');
  const modelsDir = join(dir, 'models');
  // The heuristic server gets a data dir that never holds a model.
  const emptyDir = join(dir, 'no-models');
  mkdirSync(emptyDir, { recursive: true });
  let configFile: string | undefined;
  if (o.engineConfig) {
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ engine: o.engineConfig }));
  }
  try {
    log(`${world.dataset}: ${world.queries.length} of ${world.testedUsers} tested users; ${reuse ? 'reusing' : 'importing into'} ${db}`);
    const tImport = performance.now();
    const imports = reuse ? [] : await world.importInto(db, dir);
    const importSeconds = (performance.now() - tImport) / 1000;
    const known = new Set<string>();
    {
      const store = await openStore(db);
      for (let afterId: string | undefined; ; ) {
        const page = await store.scanItems({ afterId, limit: 5000 });
        if (page.length === 0) break;
        for (const it of page) known.add(it.id);
        afterId = page[page.length - 1].id;
      }
      await store.close();
    }
    const unknownTargets = world.queries.filter((q) => !known.has(q.itemId)).length;

    let heuristic: Awaited<ReturnType<typeof servePhase>> | undefined;
    if (!o.skipHeuristic) {
      log('heuristic: serving without trained models');
      heuristic = await servePhase(o, db, emptyDir, world.queries, known, configFile, {});
    }

    const trained = reuse
      ? { command: `(reused the models trained in ${dir})`, seconds: 0, summaries: [] }
      : await trainRound({ db, dataDir: modelsDir, maxMinutes: o.maxMinutes, seed: o.seed, trainParams: o.trainParams ?? {}, log });
    if (o.keep && !reuse) writeFileSync(metaFile, JSON.stringify({ world: worldKey, trainCommand: trained.command }));
    const registry = new ModelRegistry(modelsDir);
    const expect: Record<string, string> = {};
    for (const name of ['twotower', 'sasrec', 'blend', 'ranker']) {
      const a = registry.active(name);
      if (a) expect[name] = a.version;
    }
    log(`served: waiting for ${JSON.stringify(expect)}`);
    const served = await servePhase(o, db, modelsDir, world.queries, known, configFile, expect);

    let offline: Record<string, Record<string, number>> | undefined;
    let repeatTargets: number | null = null;
    if (!o.skipOffline) {
      log('offline: scoring the active models over the catalog');
      ({ figures: offline, repeatTargets } = await offlineFigures(db, modelsDir, world.queries));
    }
    // The offline headline is the served blend when one is active, else the member with the better
    // validation NDCG@10 (chosen without the test items).
    const best = offline?.blend ? (['blend', offline.blend] as const) : offline ? Object.entries(offline).sort((a, b) => b[1].validNdcg10 - a[1].validNdcg10)[0] : undefined;

    const surfaceKeys = (prefix: string, r: { home: SurfaceResult; next: SurfaceResult } | undefined): Record<string, number | null> => ({
      [`${prefix}home.NDCG@10`]: r ? r.home['NDCG@10'] : null,
      [`${prefix}home.HR@10`]: r ? r.home['HR@10'] : null,
      [`${prefix}next.NDCG@10`]: r ? r.next['NDCG@10'] : null,
      [`${prefix}next.HR@10`]: r ? r.next['HR@10'] : null,
    });
    const latency = (r: { home: SurfaceResult; next: SurfaceResult } | undefined): Record<string, unknown> | null =>
      r ? { home: r.home.latency, next: r.next.latency, errors: r.home.errors + r.next.errors } : null;
    return {
      dataset: world.dataset,
      format: o.data === 'demo' ? 'demo' : o.format,
      protocol: 'loo-full',
      users: world.queries.length,
      testedUsers: world.testedUsers,
      items: known.size,
      unknownTargets,
      ...surfaceKeys('', served),
      ...surfaceKeys('heuristic.', heuristic),
      'offline.NDCG@10': best ? best[1]['NDCG@10'] : null,
      'offline.HR@10': best ? best[1]['HR@10'] : null,
      'offline.model': best ? best[0] : null,
      // eval's convention: a held-out item already in the history is still ranked (the server never shows it).
      'offline.eval.NDCG@10': best ? best[1]['eval.NDCG@10'] : null,
      'offline.eval.HR@10': best ? best[1]['eval.HR@10'] : null,
      ...Object.fromEntries(
        Object.entries(offline ?? {}).flatMap(([name, m]) => [
          [`offline.${name}.NDCG@10`, m['NDCG@10']],
          [`offline.${name}.HR@10`, m['HR@10']],
          [`offline.${name}.eval.NDCG@10`, m['eval.NDCG@10']],
          [`offline.${name}.eval.HR@10`, m['eval.HR@10']],
        ]),
      ),
      /** Evaluated users whose held-out item is already in their history: misses for any served list. */
      repeatTargets,
      max_minutes: o.maxMinutes,
      train_seconds: round(trained.seconds, 1),
      trainCommand: trained.command,
      trainSummaries: trained.summaries,
      modelVersions: served.modelVersions,
      latency: { served: latency(served), heuristic: latency(heuristic) },
      errors: served.home.errors + served.next.errors + (heuristic ? heuristic.home.errors + heuristic.next.errors : 0),
      concurrency: o.concurrency,
      importEvents: imports.reduce((a, r) => a + r.events, 0),
      import_seconds: round(importSeconds, 1),
      seconds: round((performance.now() - t0) / 1000, 1),
      kept: o.keep ? dir : null,
      reused: reuse,
    };
  } finally {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: '../shared/data/movielens-1m/derived/ml-1m.sasrec-format.txt' },
      format: { type: 'string', default: 'sasrec' },
      'max-minutes': { type: 'string', default: '30' },
      users: { type: 'string' },
      seed: { type: 'string', default: '1' },
      keep: { type: 'string' },
      'skip-heuristic': { type: 'boolean', default: false },
      'skip-offline': { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '8' },
      config: { type: 'string' },
      /** Per-model --params for the train commands, e.g. '{"sasrec":{"loss":"sampled-softmax"}}'. */
      'train-params': { type: 'string' },
      'demo-users': { type: 'string', default: '2000' },
      'demo-items': { type: 'string', default: '5000' },
      'demo-events-per-user': { type: 'string', default: '100' },
    },
    strict: true,
  });
  const positive = (k: string, v: string | undefined, integer = true): number => {
    const x = Number(v);
    if (!(x > 0) || (integer && !Number.isInteger(x))) throw new ValidationError(`--${k} must be a positive ${integer ? 'integer' : 'number'}`, [{ path: `--${k}`, message: `got ${v}` }]);
    return x;
  };
  const format = DatasetFormat.safeParse(values.format);
  if (!format.success) throw new ValidationError(`--format must be one of ${DatasetFormat.options.join(', ')}`, [{ path: '--format', message: `got ${values.format}` }]);
  const json = <T>(k: 'config' | 'train-params'): T | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as T;
    } catch (e) {
      throw new ValidationError(`--${k} must be a JSON object`, [{ path: `--${k}`, message: (e as Error).message }]);
    }
  };
  return runServed({
    data: values.data,
    format: format.data,
    maxMinutes: positive('max-minutes', values['max-minutes'], false),
    users: values.users === undefined ? undefined : positive('users', values.users),
    seed: positive('seed', values.seed),
    keep: values.keep,
    skipHeuristic: values['skip-heuristic'],
    skipOffline: values['skip-offline'],
    concurrency: positive('concurrency', values.concurrency),
    engineConfig: json<Record<string, unknown>>('config'),
    trainParams: json<Record<string, Record<string, unknown>>>('train-params'),
    demo: { users: positive('demo-users', values['demo-users']), items: positive('demo-items', values['demo-items']), eventsPerUser: positive('demo-events-per-user', values['demo-events-per-user']) },
  });
}
