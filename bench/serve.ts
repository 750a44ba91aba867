/**
 * Serving benchmark: the real `tastemaker serve` process over a large SQLite store, loaded over loopback
 * HTTP by autocannon against GET /v1/recommend/<random user>?n=20 (full pipeline: candidates, merge,
 * re-rank, impression log).
 *
 * The world is generated straight into the store (a compact generator, not src/core/synth.ts: that one
 * keeps every row in memory and models sessions richly, which at a million items costs minutes and GBs):
 * items with creators (Zipf sizes), a genre and a mood tag, creation times over 90 days; users with a
 * favourite genre drawing Zipf-popular items of it 80% of the time, in sessions of plays, completes,
 * likes and skips over the last 30 days. The store is cached by its parameters in the temp dir.
 *
 * Two load phases after a warm-up: a fixed rate (`--rate`, default 1000 req/s; latency corrected for
 * coordinated omission) and a closed loop at full speed (`--connections`) for the throughput ceiling.
 * The server runs with `--no-search` unless `--search` is given: then the same two phases run while the
 * search index builds in the background (the server starts it right after listening), a third
 * fixed-rate phase covers the rest of the build (stopped when the server logs the index ready), and
 * after it one fixed-rate phase of recommendations, one of /v1/search and one of /v1/suggest (2
 * connections each) measure the ready server.
 * `--search-mode worker|in-process` forces where the server builds the index (default: its own choice).
 *
 * The floor (DESIGN.md: latency benchmarks measure a bare route under the same load in the same run): a
 * minimal fastify process (bench/lib/floor-server.ts, started with the server's node flags) answers a
 * fixed page — one real recommend response captured from the server, so the same JSON shape and size —
 * and gets the same warm-up and the same two phases (rate, duration, connections, request paths) right
 * after the server's (after the search phases with `--search`). `ratio.p99` = server p99 / floor p99 at
 * the fixed rate, `ratio.maxP99` the same in the closed loop.
 *
 * `--ranker`: before serving, one trainer round (bench/lib/train-round.ts: two-tower, SASRec, blend, ranker, or
 * `train --all`) in `--train-minutes` over the store into a data dir cached beside it, so the server runs
 * with the learned models and the ranker active (checked on /healthz). At large catalogs SASRec trains
 * with a sampled softmax and both models validate on 1,000 users (`--train-params` overrides).
 * `--during-training`: after the standard phases, a `tastemaker train --model <--trainer-model>` process
 * runs on the same store and data dir while a fixed-rate phase at `--training-rate` loads the server and
 * then the floor; the trainer is stopped afterwards (it registers nothing).
 *
 *   tastemaker bench serve --json [--items 1000000] [--users 100000] [--events-per-user 20]
 *                                 [--rate 1000] [--duration 15] [--connections 8] [--surface home] [--db path]
 *                                 [--search [--search-mode auto|worker|in-process] [--search-rate 50]]
 *                                 [--ranker [--train-minutes 10] [--train-params JSON]]
 *                                 [--during-training [--training-rate 500] [--trainer-model sasrec]]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { BIN, startFloor, stopChild, type ServeChild } from './lib/children.js';
import { trainRound } from './lib/train-round.js';
import { ModelRegistry } from '../src/registry/index.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { Event, Item } from '../src/core/schemas.js';
import { openStore } from '../src/store/index.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const GENRES = ['rock', 'pop', 'jazz', 'hiphop', 'classical', 'electronic', 'folk', 'metal', 'soul', 'ambient', 'latin', 'country'];
const MOODS = ['calm', 'dark', 'happy', 'sad', 'epic', 'dreamy', 'raw', 'warm'];
const DAY = 86_400_000;
const WRITE_BATCH = 10_000;
const KEY = 'bench-serve-client-key-0123456789abcdef';
const ADMIN = 'bench-serve-admin-key-0123456789abcdef';
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

interface World {
  items: number;
  users: number;
  eventsPerUser: number;
  seed: number;
}

/** Cumulative Zipf weights 1/(r+1)^s over ranks 0..n-1. */
function zipfCum(n: number, s: number): Float64Array {
  const cum = new Float64Array(n);
  let acc = 0;
  for (let r = 0; r < n; r++) cum[r] = acc += 1 / Math.pow(r + 1, s);
  return cum;
}

function sample(cum: Float64Array, u: number): number {
  const x = u * cum[cum.length - 1];
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Writes the world into the store at dbPath; returns timings. */
async function generate(dbPath: string, w: World, nowMs: number): Promise<{ generateSeconds: number; events: number }> {
  const t0 = performance.now();
  const store = await openStore(dbPath);
  const rng = new Rng(w.seed);
  const G = GENRES.length;
  const creators = Math.max(1, Math.floor(w.items / 50));
  const creatorCum = zipfCum(creators, 0.8);
  let batch: Item[] = [];
  for (let i = 0; i < w.items; i++) {
    // Item i has genre i mod G: the rank of i within its genre is floor(i / G).
    const c = sample(creatorCum, rng.next());
    batch.push({
      id: `i${i}`,
      creatorId: `c${c}`,
      title: `Track ${i}`,
      text: '',
      tags: [GENRES[i % G], MOODS[rng.int(MOODS.length)]],
      attributes: {},
      createdAt: nowMs - Math.floor(rng.next() * 90 * DAY),
      available: true,
    });
    if (batch.length === WRITE_BATCH) {
      await store.upsertItems(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await store.upsertItems(batch);
  const perGenre = Math.ceil(w.items / G);
  const rankCum = zipfCum(perGenre, 0.9);
  const allCum = zipfCum(w.items, 0.9);
  const types = ['play', 'play', 'play', 'play', 'play', 'play', 'complete', 'complete', 'like', 'skip'];
  let events: Event[] = [];
  let total = 0;
  for (let u = 0; u < w.users; u++) {
    const genre = rng.int(G);
    let t = nowMs - 30 * DAY + Math.floor(rng.next() * 29 * DAY);
    let session = 0;
    for (let k = 0; k < w.eventsPerUser; k++) {
      if (k % 5 === 0) {
        session++;
        t += 3_600_000 + Math.floor(rng.next() * DAY);
      }
      let item: number;
      if (rng.next() < 0.8) {
        const r = sample(rankCum, rng.next());
        item = Math.min(w.items - 1, r * G + genre);
      } else item = sample(allCum, rng.next());
      t += 60_000 + rng.int(240_000);
      events.push({ id: `e${u}-${k}`, userId: `u${u}`, itemId: `i${item}`, type: types[rng.int(types.length)], timestamp: Math.min(t, nowMs - 1), sessionId: `s${u}-${session}` });
      if (events.length === WRITE_BATCH) {
        await store.appendEvents(events);
        total += events.length;
        events = [];
      }
    }
  }
  if (events.length > 0) await store.appendEvents(events);
  total += events.length;
  await store.setMeta('bench-serve', JSON.stringify(w));
  await store.close();
  return { generateSeconds: round((performance.now() - t0) / 1000, 1), events: total };
}

/** The server's search build as seen in its log: when the index became ready, and its ready line. */
interface SearchBuild {
  /** Resolves with the ready log line and the time it was seen (performance.now()). */
  ready: Promise<{ line: string; atMs: number }>;
  /** Resolves when the server logs that the build failed. */
  failed: Promise<string>;
  /** Log lines about search seen so far (build start, ready, tower). */
  lines: string[];
  /** performance.now() when the ready line was seen; undefined until then. */
  readyAtMs?: number;
}

/** Starts `tastemaker serve` on a free loopback port; resolves with its URL once it listens. */
function startServe(
  dbPath: string,
  dataDir: string,
  configFile: string | undefined,
  cpuProf: string | undefined,
  nodeOptions: string | undefined,
  search?: { mode: 'auto' | 'worker' | 'in-process' },
): Promise<{ child: ChildProcess; url: string; warmSeconds: number; listenAtMs: number; search: SearchBuild }> {
  const t0 = performance.now();
  const nodeArgs = [...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []), ...(nodeOptions ? nodeOptions.split(/\s+/).filter(Boolean) : [])];
  const serveArgs = ['serve', '--db', dbPath, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-train', ...(search ? [] : ['--no-search']), ...(configFile ? ['--config', configFile] : [])];
  const child = spawn(process.execPath, [...nodeArgs, join(REPO, 'bin/tastemaker.mjs'), ...serveArgs], {
    cwd: REPO,
    env: {
      ...process.env,
      TASTEMAKER_ADMIN_KEYS: ADMIN,
      TASTEMAKER_CLIENT_KEYS: KEY,
      ...(search && search.mode !== 'auto' ? { TASTEMAKER_SEARCH_WORKER: search.mode === 'worker' ? 'on' : 'off' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let onReady: (r: { line: string; atMs: number }) => void = () => undefined;
  let onFailed: (line: string) => void = () => undefined;
  const build: SearchBuild = { ready: new Promise((resolve) => (onReady = resolve)), failed: new Promise((resolve) => (onFailed = resolve)), lines: [] };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1], warmSeconds: round((performance.now() - t0) / 1000, 1), listenAtMs: performance.now(), search: build });
    });
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      err = (err + text).slice(-4000);
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (!/^(search |building the search|training the search|warning: search)/.test(line)) continue;
        build.lines.push(line);
        if (/search index ready/.test(line) && build.readyAtMs === undefined) {
          build.readyAtMs = performance.now();
          onReady({ line, atMs: build.readyAtMs });
        }
        if (/search index build failed/.test(line)) onFailed(line);
      }
    });
    child.on('exit', (code) => reject(new Error(`tastemaker serve exited (${code}) before listening:\n${err}`)));
  });
}

interface LoadResult {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  reqPerSec: number;
  requests: number;
  errors: number;
  non2xx: number;
}

function load(
  url: string,
  users: number,
  path: string,
  opts: { durationS: number; connections: number; rate?: number; seed: number; stopWhen?: Promise<unknown>; requestPath?: (rng: Rng) => string },
): Promise<LoadResult & { seconds: number }> {
  const rng = new Rng(opts.seed);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: opts.connections,
        duration: opts.durationS,
        ...(opts.rate ? { overallRate: opts.rate } : {}),
        headers: { 'x-api-key': KEY },
        requests: [
          {
            method: 'GET',
            setupRequest: (req: Record<string, unknown>) => ({ ...req, path: opts.requestPath ? opts.requestPath(rng) : `/v1/recommend/u${rng.int(users)}?${path}` }),
          },
        ],
      },
      (err: Error | null, r: autocannon.Result) => {
        if (err) return reject(err);
        resolve({
          p50Ms: r.latency.p50,
          p90Ms: r.latency.p90,
          p99Ms: r.latency.p99,
          reqPerSec: round(r.requests.average, 0),
          requests: r.requests.total,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          seconds: round((performance.now() - t0) / 1000, 1),
        });
      },
    );
    // autocannon's instance (untyped in bench/autocannon.d.ts): stop() ends the run and calls back.
    void opts.stopWhen?.then(() => (instance as { stop(): void }).stop());
  });
}

/** The figures of one load phase, for the JSON line. */
function phase(r: LoadResult & { seconds: number }): Record<string, number> {
  return { p50Ms: r.p50Ms, p90Ms: r.p90Ms, p99Ms: r.p99Ms, reqPerSec: r.reqPerSec, errors: r.errors + r.non2xx, seconds: r.seconds };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      items: { type: 'string', default: '1000000' },
      users: { type: 'string', default: '100000' },
      'events-per-user': { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '15' },
      connections: { type: 'string', default: '8' },
      surface: { type: 'string', default: 'home' },
      n: { type: 'string', default: '20' },
      db: { type: 'string' },
      /** Engine config JSON passed to serve (as the config file's `engine`), e.g. '{"rerank":{"lambda":0.8}}'. */
      config: { type: 'string' },
      'cpu-prof': { type: 'string' },
      /** Model registry dir for the server (default: a fresh empty one, i.e. no trained models). */
      'data-dir': { type: 'string' },
      /** V8/node flags for the server process, e.g. '--max-semi-space-size=64'. */
      'node-options': { type: 'string' },
      fresh: { type: 'boolean', default: false },
      /** Serve with the search index building in the background (default: `serve --no-search`). */
      search: { type: 'boolean', default: false },
      /** Where the server builds the index: its own choice (auto), a worker thread, or in process. */
      'search-mode': { type: 'string', default: 'auto' },
      /** Fixed rate of the /v1/search phase once the index is ready. */
      'search-rate': { type: 'string', default: '50' },
      /** Longest wait for the index after the measured phases, in seconds. */
      'search-timeout': { type: 'string', default: '1800' },
      /** Train the learned models and the ranker on the store first (cached beside it) and serve with them. */
      ranker: { type: 'boolean', default: false },
      /** Budget of that trainer round, in minutes. */
      'train-minutes': { type: 'string', default: '10' },
      /** Per-model --params for that round, e.g. '{"sasrec":{"negatives":512}}'. */
      'train-params': { type: 'string' },
      /** Also measure while a trainer process runs on the same store. */
      'during-training': { type: 'boolean', default: false },
      'training-rate': { type: 'string', default: '500' },
      'trainer-model': { type: 'string', default: 'sasrec' },
    },
    strict: true,
  });
  const num = (k: 'items' | 'users' | 'events-per-user' | 'seed' | 'rate' | 'duration' | 'connections' | 'n' | 'search-rate' | 'search-timeout' | 'training-rate'): number => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v <= 0) throw new ValidationError(`--${k} must be a positive integer`, [{ path: `--${k}`, message: 'must be a positive integer' }]);
    return v;
  };
  const searchMode = values['search-mode'];
  if (searchMode !== 'auto' && searchMode !== 'worker' && searchMode !== 'in-process') {
    throw new ValidationError('--search-mode must be auto, worker or in-process', [{ path: '--search-mode', message: `got ${searchMode}` }]);
  }
  const world: World = { items: num('items'), users: num('users'), eventsPerUser: num('events-per-user'), seed: num('seed') };
  const dbPath = values.db ?? join(tmpdir(), `tastemaker-bench-serve-${world.items}x${world.users}x${world.eventsPerUser}-s${world.seed}.db`);
  // Timestamps relative to a fixed day so the cached store stays valid (the server runs on the real clock).
  const nowMs = Math.floor(Date.now() / DAY) * DAY;
  let gen: { generateSeconds: number; events: number } | undefined;
  let cached = false;
  if (!values.fresh && existsSync(dbPath)) {
    const s = await openStore(dbPath);
    cached = (await s.getMeta('bench-serve')) === JSON.stringify(world);
    await s.close();
  }
  if (!cached) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
    gen = await generate(dbPath, world, nowMs);
  }
  if (values['trainer-model'] !== 'sasrec' && values['trainer-model'] !== 'twotower') {
    throw new ValidationError('--trainer-model must be sasrec or twotower', [{ path: '--trainer-model', message: `got ${values['trainer-model']}` }]);
  }
  const trainMinutes = Number(values['train-minutes']);
  if (!(trainMinutes > 0)) throw new ValidationError('--train-minutes must be a positive number', [{ path: '--train-minutes', message: `got ${values['train-minutes']}` }]);

  let configFile: string | undefined;
  if (values.config) {
    configFile = join(tmpdir(), `tastemaker-bench-serve-config-${process.pid}.json`);
    writeFileSync(configFile, JSON.stringify({ engine: JSON.parse(values.config) as unknown }));
  }
  // A fresh data dir serves without trained models; --data-dir points at one with e.g. an active ranker;
  // --ranker trains into a dir cached beside the store (or into --data-dir).
  const modelsDir = values['data-dir'] ?? (values.ranker ? `${dbPath}.models` : mkdtempSync(join(tmpdir(), 'tastemaker-bench-serve-data-')));
  if (values.ranker && !values['data-dir'] && !cached) rmSync(modelsDir, { recursive: true, force: true });
  const training = values.ranker ? await ensureTrained(dbPath, modelsDir, world, trainMinutes, values['train-params']) : undefined;
  const nodeArgs = values['node-options'] ? values['node-options'].split(/\s+/).filter(Boolean) : [];
  const server = await startServe(dbPath, modelsDir, configFile, values['cpu-prof'], values['node-options'], values.search ? { mode: searchMode } : undefined);
  const pageFile = join(tmpdir(), `tastemaker-bench-serve-page-${process.pid}.json`);
  let floor: ServeChild | undefined;
  try {
    const path = `surface=${values.surface}&n=${num('n')}`;
    const modelVersions = training ? await waitForModels(server.url, training.expect) : (await health(server.url)).modelVersions;
    const shape = { durationS: num('duration'), connections: num('connections') };
    await load(server.url, world.users, path, { durationS: 3, connections: shape.connections, seed: 99 }); // JIT warm-up
    const fixed = await load(server.url, world.users, path, { ...shape, rate: num('rate'), seed: 1 });
    const max = await load(server.url, world.users, path, { ...shape, seed: 2 });
    const searchFigures = values.search ? await measureSearch(server, world.users, path, { ...shape, rate: num('rate'), searchRate: num('search-rate'), timeoutS: num('search-timeout'), mode: searchMode }) : {};

    // The floor: same warm-up, phases, seeds and request paths, on a bare route answering a captured page.
    writeFileSync(pageFile, await capturePage(server.url, path));
    floor = await startFloor(pageFile, nodeArgs);
    await load(floor.url, world.users, path, { durationS: 3, connections: shape.connections, seed: 99 });
    const floorFixed = await load(floor.url, world.users, path, { ...shape, rate: num('rate'), seed: 1 });
    const floorMax = await load(floor.url, world.users, path, { ...shape, seed: 2 });

    const duringTraining = values['during-training']
      ? await measureDuringTraining(server.url, floor.url, dbPath, modelsDir, world.users, path, { ...shape, rate: num('training-rate'), model: values['trainer-model'] })
      : undefined;
    return {
      items: world.items,
      users: world.users,
      events: gen?.events ?? world.users * world.eventsPerUser,
      surface: values.surface,
      n: num('n'),
      targetRate: num('rate'),
      p50Ms: fixed.p50Ms,
      p90Ms: fixed.p90Ms,
      p99Ms: fixed.p99Ms,
      reqPerSec: fixed.reqPerSec,
      errors: fixed.errors + fixed.non2xx,
      maxReqPerSec: max.reqPerSec,
      maxP50Ms: max.p50Ms,
      maxP90Ms: max.p90Ms,
      maxP99Ms: max.p99Ms,
      maxErrors: max.errors + max.non2xx,
      'floor.p50Ms': floorFixed.p50Ms,
      'floor.p90Ms': floorFixed.p90Ms,
      'floor.p99Ms': floorFixed.p99Ms,
      'floor.reqPerSec': floorFixed.reqPerSec,
      'ratio.p99': ratio(fixed.p99Ms, floorFixed.p99Ms),
      'floor.maxReqPerSec': floorMax.reqPerSec,
      'floor.maxP50Ms': floorMax.p50Ms,
      'floor.maxP90Ms': floorMax.p90Ms,
      'floor.maxP99Ms': floorMax.p99Ms,
      'ratio.maxP99': ratio(max.p99Ms, floorMax.p99Ms),
      floorErrors: floorFixed.errors + floorFixed.non2xx + floorMax.errors + floorMax.non2xx,
      pageBytes: Buffer.byteLength(await capturePage(server.url, path)),
      connections: num('connections'),
      nodeOptions: values['node-options'] ?? '',
      dataDir: values['data-dir'] ?? (values.ranker ? modelsDir : '(fresh, no models)'),
      modelVersions,
      ...(training ? { training: training.summary } : {}),
      storeCached: cached,
      generateSeconds: gen?.generateSeconds ?? 0,
      serverStartSeconds: server.warmSeconds,
      ...searchFigures,
      ...(duringTraining ? { duringTraining } : {}),
    };
  } finally {
    if (floor) await floor.stop();
    await stopChild(server.child);
    rmSync(pageFile, { force: true });
    if (configFile) rmSync(configFile, { force: true });
    if (!values['data-dir'] && !values.ranker) rmSync(modelsDir, { recursive: true, force: true });
  }
}

const ratio = (a: number, b: number): number | null => (b > 0 ? round(a / b, 2) : null);

/** One recommend response of the server (a fixed user), as the floor's page. */
async function capturePage(url: string, path: string): Promise<string> {
  const r = await fetch(`${url}/v1/recommend/u0?${path}`, { headers: { 'x-api-key': KEY } });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`capturing the floor's page: GET /v1/recommend/u0 answered ${r.status}: ${text.slice(0, 200)}`);
  return text;
}

async function health(url: string): Promise<{ modelVersions: Record<string, string> }> {
  const r = await fetch(`${url}/healthz`);
  return (await r.json()) as { modelVersions: Record<string, string> };
}

/** Polls /healthz until it lists every expected version (name → version); returns its modelVersions. */
async function waitForModels(url: string, expect: Record<string, string>, timeoutMs = 300_000): Promise<Record<string, string>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { modelVersions } = await health(url);
    const missing = Object.entries(expect).filter(([name, v]) => modelVersions[name] !== `${name}@${v}`);
    if (missing.length === 0) return modelVersions;
    if (performance.now() > deadline) throw new Error(`the server did not load ${JSON.stringify(missing)}; it reports ${JSON.stringify(modelVersions)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const LEARNED = ['twotower', 'sasrec', 'ranker'] as const;

/**
 * The learned models and the ranker active in modelsDir: reused when all three are active (the dir is
 * cached beside the store and removed when the store is regenerated), else one trainer round.
 */
async function ensureTrained(dbPath: string, modelsDir: string, w: World, minutes: number, paramsJson: string | undefined): Promise<{ expect: Record<string, string>; summary: Record<string, unknown> }> {
  const active = (): Record<string, string> => {
    const reg = new ModelRegistry(modelsDir);
    const out: Record<string, string> = {};
    // The served blend is optional: its job activates it only where it beats the heuristics.
    for (const name of [...LEARNED, 'blend']) {
      const a = reg.active(name);
      if (a) out[name] = a.version;
    }
    return out;
  };
  let summary: Record<string, unknown> = { reused: true };
  const now = active();
  if (!LEARNED.every((m) => now[m])) {
    // A full softmax over a large catalog (and full-ranking validation of every user) would not fit any budget.
    const large = w.items > 20_000;
    const defaults: Record<string, Record<string, unknown>> = large
      ? { sasrec: { loss: 'sampled-softmax', negatives: 1024, validUsers: 1000 }, twotower: { validUsers: 1000 } }
      : {};
    let params = defaults;
    if (paramsJson) {
      try {
        params = { ...defaults, ...(JSON.parse(paramsJson) as Record<string, Record<string, unknown>>) };
      } catch (e) {
        throw new ValidationError('--train-params must be a JSON object', [{ path: '--train-params', message: (e as Error).message }]);
      }
    }
    const r = await trainRound({ db: dbPath, dataDir: modelsDir, maxMinutes: minutes, seed: w.seed, trainParams: params, log: (m) => console.error(`bench serve: ${m}`) });
    summary = { reused: false, command: r.command, seconds: r.seconds, maxMinutes: minutes, params, summaries: r.summaries };
  }
  const expect = active();
  const missing = LEARNED.filter((m) => !expect[m]);
  if (missing.length > 0) throw new Error(`--ranker: no active ${missing.join(', ')} in ${modelsDir} after training`);
  return { expect, summary };
}

/**
 * A `tastemaker train` process on the same store and data dir (budget longer than the measurement, stopped
 * after it, so it registers nothing), then a fixed-rate phase on the server and one on the floor while it
 * runs. The first 10 s of the trainer (reading the log) are not measured.
 */
async function measureDuringTraining(
  serverUrl: string,
  floorUrl: string,
  dbPath: string,
  dataDir: string,
  users: number,
  path: string,
  o: { durationS: number; connections: number; rate: number; model: string },
): Promise<Record<string, unknown>> {
  const startupS = 10;
  const budgetMinutes = Math.ceil((startupS + 2 * o.durationS + 120) / 60);
  const trainer = spawn(process.execPath, [BIN, 'train', '--db', dbPath, '--data-dir', dataDir, '--model', o.model, '--max-minutes', String(budgetMinutes)], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  trainer.once('exit', () => (exited = true));
  try {
    await new Promise((r) => setTimeout(r, startupS * 1000));
    const srv = await load(serverUrl, users, path, { ...o, seed: 7 });
    const flr = await load(floorUrl, users, path, { ...o, seed: 7 });
    return {
      trainerModel: o.model,
      trainerRunningThroughout: !exited,
      rate: o.rate,
      p50Ms: srv.p50Ms,
      p90Ms: srv.p90Ms,
      p99Ms: srv.p99Ms,
      reqPerSec: srv.reqPerSec,
      errors: srv.errors + srv.non2xx,
      'floor.p50Ms': flr.p50Ms,
      'floor.p90Ms': flr.p90Ms,
      'floor.p99Ms': flr.p99Ms,
      'ratio.p99': ratio(srv.p99Ms, flr.p99Ms),
    };
  } finally {
    await stopChild(trainer);
  }
}

/**
 * After the two standard phases (which ran while the index was building, unless it was ready first):
 * fixed-rate load for the rest of the build, stopped when the server logs the index ready; then, with
 * the index ready (the content tower trains in a worker meanwhile), one fixed-rate phase of
 * recommendations and one of /v1/search queries ("track <n>", typo-free titles of the bench catalog).
 */
async function measureSearch(
  server: { url: string; listenAtMs: number; search: SearchBuild },
  users: number,
  path: string,
  o: { durationS: number; connections: number; rate: number; searchRate: number; timeoutS: number; mode: string },
): Promise<Record<string, unknown>> {
  const build = server.search;
  const standardPhasesDuringBuild = build.readyAtMs === undefined;
  const tail =
    build.readyAtMs === undefined
      ? await load(server.url, users, path, { durationS: o.timeoutS, connections: o.connections, rate: o.rate, seed: 3, stopWhen: Promise.race([build.ready, build.failed]) })
      : undefined;
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2_000).unref());
  if ((await Promise.race([build.ready, timeout])) === 'timeout') {
    return { search: true, searchMode: o.mode, searchReady: false, searchLog: build.lines };
  }
  const after = await load(server.url, users, path, { durationS: o.durationS, connections: o.connections, rate: o.rate, seed: 4 });
  // Two connections: search is one worker thread (or the main one); queueing 8 deep would only measure the queue.
  const query = await load(server.url, users, path, {
    durationS: o.durationS,
    connections: 2,
    rate: o.searchRate,
    seed: 5,
    requestPath: (rng) => `/v1/search?q=${encodeURIComponent(`track ${rng.int(1_000_000)}`)}&n=10`,
  });
  // Autocomplete does little work per query: its latency is mostly the HTTP + thread round trip.
  const suggest = await load(server.url, users, path, {
    durationS: o.durationS,
    connections: 2,
    rate: o.searchRate,
    seed: 6,
    requestPath: (rng) => `/v1/suggest?q=${encodeURIComponent(`track ${rng.int(1_000)}`)}&n=10`,
  });
  return {
    search: true,
    searchMode: o.mode,
    searchReady: true,
    /** Seconds from the server listening (when it starts the build) to the index answering. */
    searchReadySeconds: round((build.readyAtMs! - server.listenAtMs) / 1000, 1),
    standardPhasesDuringBuild,
    buildTail: tail ? phase(tail) : undefined,
    afterReady: phase(after),
    searchQueries: phase(query),
    suggestQueries: phase(suggest),
    searchLog: build.lines,
  };
}
