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
 *   tastemaker bench serve --json [--items 1000000] [--users 100000] [--events-per-user 20]
 *                                 [--rate 1000] [--duration 15] [--connections 8] [--surface home] [--db path]
 *                                 [--search [--search-mode auto|worker|in-process] [--search-rate 50]]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
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
    },
    strict: true,
  });
  const num = (k: 'items' | 'users' | 'events-per-user' | 'seed' | 'rate' | 'duration' | 'connections' | 'n' | 'search-rate' | 'search-timeout'): number => {
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

  let configFile: string | undefined;
  if (values.config) {
    configFile = join(tmpdir(), `tastemaker-bench-serve-config-${process.pid}.json`);
    writeFileSync(configFile, JSON.stringify({ engine: JSON.parse(values.config) as unknown }));
  }
  // A fresh data dir serves without trained models; --data-dir points at one with e.g. an active ranker.
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'tastemaker-bench-serve-data-'));
  const server = await startServe(dbPath, dataDir, configFile, values['cpu-prof'], values['node-options'], values.search ? { mode: searchMode } : undefined);
  try {
    const path = `surface=${values.surface}&n=${num('n')}`;
    await load(server.url, world.users, path, { durationS: 3, connections: num('connections'), seed: 99 }); // JIT warm-up
    const fixed = await load(server.url, world.users, path, { durationS: num('duration'), connections: num('connections'), rate: num('rate'), seed: 1 });
    const max = await load(server.url, world.users, path, { durationS: num('duration'), connections: num('connections'), seed: 2 });
    const searchFigures = values.search ? await measureSearch(server, world.users, path, { durationS: num('duration'), connections: num('connections'), rate: num('rate'), searchRate: num('search-rate'), timeoutS: num('search-timeout'), mode: searchMode }) : {};
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
      maxP99Ms: max.p99Ms,
      connections: num('connections'),
      nodeOptions: values['node-options'] ?? '',
      dataDir: values['data-dir'] ?? '(fresh, no models)',
      storeCached: cached,
      generateSeconds: gen?.generateSeconds ?? 0,
      serverStartSeconds: server.warmSeconds,
      ...searchFigures,
    };
  } finally {
    server.child.kill('SIGTERM');
    // A server stuck in a long synchronous step cannot run its shutdown handler: kill it after 15 s.
    const killer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await new Promise((r) => server.child.once('exit', r));
    clearTimeout(killer);
    if (configFile) rmSync(configFile, { force: true });
    if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
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
