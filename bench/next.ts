/**
 * Cost of the `sasrec` sequential source per request (src/models/sasrec-serve.ts): the eval-mode forward
 * pass over the user's newest n items plus one matvec over all item embeddings and the top-k.
 *
 * 1. Predictor: SASRec at the ML-1M shape (3,416 items, maxLen 200, d 64, 2 blocks, 1 head; random
 *    weights — the cost does not depend on their values) answering top-k = 40 for input lengths 1..maxLen.
 * 2. The matvec at a large catalogue (--big-items, default 100k) with a 1-item input, so the forward pass
 *    is negligible and the O(items·d) scoring + top-k pass dominates.
 * 3. Engine: `next` n = 20 through OnlineEngine.recommend (merge, re-rank, impression write) on a synthetic
 *    world at ML-1M scale (6,040 users, 3,416 items), with the sasrec source loaded vs not, its context
 *    the whole recent history (historySize = maxLen), so long sequences are measured.
 *
 * 4. With --quality: does the source help? A synthetic world (--q-users, --q-items) has 90% of its log
 *    stored; `trainFromStore` fits SASRec on it (default hyper-parameters, --q-minutes budget) and the
 *    engine, with the version loaded, replays the last 10% event by event, asking `next` (n = 20) before
 *    each sampled play whether it is on the page (history excluded), for several sequential settings.
 *
 *    With --db <store> --data-dir <dir>: the real store and its active sasrec version instead.
 *
 *   tastemaker bench next --json [--items 3416] [--max-len 200] [--dim 64] [--blocks 2] [--calls 300]
 *                               [--big-items 100000] [--users 6040] [--events-per-user 100] [--db S --data-dir D]
 *                               [--quality] [--q-users 3000] [--q-items 2000] [--q-minutes 3] [--queries 2000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFromStore } from '../src/train/index.js';
import { ManualClock } from '../src/core/clock.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine, loadSasrec, type EngineConfigInput, type OnlineEngine } from '../src/engine/index.js';
import { ModelRegistry } from '../src/registry/index.js';
import { Kernels } from '../src/models/kernels/index.js';
import { SasrecConfig, SasrecModel } from '../src/models/sasrec.js';
import { SasrecPredictor } from '../src/models/sasrec-serve.js';
import { MemoryStore } from '../src/store/memory.js';
import { openStore } from '../src/store/index.js';

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function quantiles(ms: Float64Array): { p50Ms: number; p99Ms: number; meanMs: number } {
  const s = ms.slice().sort();
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50Ms: round(q(0.5)), p99Ms: round(q(0.99)), meanMs: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

/** A randomly initialised SASRec as serving loads it (artifacts → predictor). */
function randomPredictor(numItems: number, cfg: SasrecConfig, seed: number): SasrecPredictor {
  const kernels = new Kernels({ threads: 1 });
  const model = new SasrecModel(cfg, numItems, { kernels, maxBatch: 1, seed, inference: true });
  const weights = { params: model.paramBuf.slice() };
  void kernels.dispose();
  return SasrecPredictor.fromArtifacts({ ...cfg, numItems }, weights);
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      items: { type: 'string', default: '3416' },
      'max-len': { type: 'string', default: '200' },
      dim: { type: 'string', default: '64' },
      blocks: { type: 'string', default: '2' },
      calls: { type: 'string', default: '300' },
      'big-items': { type: 'string', default: '100000' },
      users: { type: 'string', default: '6040' },
      'events-per-user': { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      quality: { type: 'boolean', default: false },
      'q-users': { type: 'string', default: '3000' },
      'q-items': { type: 'string', default: '2000' },
      'q-minutes': { type: 'string', default: '3' },
      queries: { type: 'string', default: '2000' },
      db: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  const num = (k: keyof typeof values, min = 1): number => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < min) throw new ValidationError(`--${k} must be an integer ≥ ${min}`, [{ path: `--${k}`, message: `must be an integer ≥ ${min}` }]);
    return v;
  };
  const numItems = num('items', 2);
  const cfg = SasrecConfig.parse({ maxLen: num('max-len', 2), dim: num('dim', 4), blocks: num('blocks'), heads: 1, dropout: 0 });
  const calls = num('calls');
  const seed = num('seed', 0);
  const rng = new Rng(seed);
  const k = 40;
  const outItems = new Int32Array(k);
  const outScores = new Float32Array(k);

  // 1. Predictor latency by input length.
  const predictor = randomPredictor(numItems, cfg, seed);
  const seq = new Int32Array(cfg.maxLen);
  const byLength: Record<string, ReturnType<typeof quantiles>> = {};
  for (const n of [1, 10, 50, cfg.maxLen].filter((x, i, a) => x <= cfg.maxLen && a.indexOf(x) === i)) {
    const ms = new Float64Array(calls);
    for (let c = -20; c < calls; c++) {
      for (let j = 0; j < n; j++) seq[j] = rng.int(numItems);
      const t0 = performance.now();
      predictor.topK(seq, n, k, outItems, outScores);
      if (c >= 0) ms[c] = performance.now() - t0;
    }
    byLength[`n${n}`] = quantiles(ms);
  }
  await predictor.dispose();

  // 2. Catalogue-size cost: a 1-item input over a big catalogue.
  const bigItems = num('big-items', 0);
  let big: Record<string, unknown> | undefined;
  if (bigItems >= 2) {
    const p = randomPredictor(bigItems, cfg, seed);
    const ms = new Float64Array(calls);
    for (let c = -10; c < calls; c++) {
      seq[0] = rng.int(bigItems);
      const t0 = performance.now();
      p.topK(seq, 1, k, outItems, outScores);
      if (c >= 0) ms[c] = performance.now() - t0;
    }
    big = { items: bigItems, n1: quantiles(ms) };
    await p.dispose();
  }

  // 3. The whole `next` request with and without the source: a synthetic world at ML-1M scale with the
  // random model, or (--db, --data-dir) a real store with its active sasrec version.
  const engineNext = values.db
    ? await engineOnStore(values.db, values['data-dir'] ?? '.tastemaker', cfg.maxLen, calls, seed)
    : await engineOnSynthetic(numItems, cfg, num('users'), num('events-per-user'), calls, seed);

  const quality = values.quality ? await replayQuality(num('q-users'), num('q-items'), Number(values['q-minutes']), num('queries'), seed) : undefined;

  return {
    bench: 'next',
    ...(quality ? { quality } : {}),
    model: { items: numItems, ...cfg },
    topK: k,
    predictor_ms_by_input_length: byLength,
    ...(big ? { big_catalogue: big } : {}),
    engine_next_n20: engineNext,
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

/** Next-item HR@20 of the `next` surface on a held-out replay, per sequential setting (see the header). */
async function replayQuality(users: number, items: number, minutes: number, maxQueries: number, seed: number): Promise<Record<string, unknown>> {
  if (!(minutes > 0)) throw new ValidationError('--q-minutes must be positive', [{ path: '--q-minutes', message: 'must be > 0' }]);
  const data = generateSynthetic({ seed, users, items, creators: Math.max(1, Math.round(items / 8)), days: 30, eventsPerUser: 60, startMs: Date.UTC(2026, 0, 1) });
  const events = data.events;
  const stored = Math.floor(events.length * 0.9);
  const store = new MemoryStore();
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-next-'));
  try {
    await store.upsertItems(data.items);
    for (let i = 0; i < stored; i += 10_000) await store.appendEvents(events.slice(i, Math.min(stored, i + 10_000)));
    const registry = new ModelRegistry(dir);
    const train = await trainFromStore(store, registry, { model: 'sasrec', seed, maxMinutes: minutes });
    const plays: number[] = [];
    for (let i = stored; i < events.length; i++) if (events[i].type === 'play') plays.push(i);
    const every = Math.max(1, Math.floor(plays.length / maxQueries));
    const sampled = new Set(plays.filter((_, k) => k % every === 0).slice(0, maxQueries));
    const variants: Record<string, EngineConfigInput> = {
      off: { sequential: { nextWeight: 0, homeWeight: 0 } },
      'session w0.5': { sequential: { nextWeight: 0.5, nextContext: 'session' } },
      'session w1': { sequential: { nextWeight: 1, nextContext: 'session' } },
      'history w1': { sequential: { nextWeight: 1, nextContext: 'history' } },
      'history w3': { sequential: { nextWeight: 3, nextContext: 'history' } },
    };
    const hr: Record<string, number> = {};
    const hrHome: Record<string, number> = {};
    let queries = 0;
    for (const [name, config] of Object.entries(variants)) {
      const clock = new ManualClock(events[stored - 1].timestamp);
      const engine = (await createEngine(store, { clock, config })) as OnlineEngine;
      loadSasrec(engine, registry);
      let hits = 0;
      let homeHits = 0;
      queries = 0;
      for (let i = stored; i < events.length; i++) {
        const e = events[i];
        if (sampled.has(i)) {
          clock.set(e.timestamp);
          queries++;
          const res = await engine.recommend({ userId: e.userId, surface: 'next', n: 20, sessionId: e.sessionId });
          if (res.items.some((x) => x.itemId === e.itemId)) hits++;
          const home = await engine.recommend({ userId: e.userId, surface: 'home', n: 20 });
          if (home.items.some((x) => x.itemId === e.itemId)) homeHits++;
        }
        engine.onEvents([e]);
      }
      await engine.close();
      hr[name] = round(hits / Math.max(1, queries));
      hrHome[name] = round(homeHits / Math.max(1, queries));
    }
    return {
      users: data.users.length, items: data.items.length, events: events.length, queries,
      sasrec: { version: train.version, epochs: train.epochs, 'valid.NDCG@10': round(train['valid.NDCG@10'], 4), train_seconds: round(train.train_seconds, 1) },
      'next HR@20': hr,
      // home uses homeWeight (default) in every variant but `off`.
      'home HR@20': hrHome,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Latency = ReturnType<typeof quantiles> & { pagesWithSasrec: number };

/** p50/p99 of `next` (n = 20) for random known users, before and after `load` sets the sasrec source. */
async function nextLatency(engine: OnlineEngine, calls: number, seed: number, load: () => string | undefined): Promise<{ without_sasrec: Latency; with_sasrec: Latency; sasrec: string }> {
  const users = engine.features.users;
  const measure = async (): Promise<Latency> => {
    const r = new Rng(seed + 1);
    const ms = new Float64Array(calls);
    let pages = 0;
    for (let c = -20; c < calls; c++) {
      const userId = users.id(r.int(users.size));
      const t0 = performance.now();
      const res = await engine.recommend({ userId, surface: 'next', n: 20 });
      if (c < 0) continue;
      ms[c] = performance.now() - t0;
      if (res.items.some((i) => i.sources.includes('sasrec'))) pages++;
    }
    return { ...quantiles(ms), pagesWithSasrec: round(pages / calls) };
  };
  const without = await measure();
  const version = load();
  if (!version) throw new ValidationError('no sasrec version to load', [{ path: '--data-dir', message: 'train and activate a sasrec version first' }]);
  return { without_sasrec: without, with_sasrec: await measure(), sasrec: version };
}

async function engineOnSynthetic(numItems: number, cfg: SasrecConfig, users: number, eventsPerUser: number, calls: number, seed: number): Promise<Record<string, unknown>> {
  const data = generateSynthetic({ seed, users, items: numItems, creators: Math.max(1, Math.round(numItems / 8)), days: 30, eventsPerUser, startMs: Date.UTC(2026, 0, 1) });
  const store = new MemoryStore();
  try {
    await store.upsertItems(data.items);
    for (let i = 0; i < data.events.length; i += 10_000) await store.appendEvents(data.events.slice(i, i + 10_000));
    const last = data.events[data.events.length - 1];
    const engine = (await createEngine(store, {
      clock: new ManualClock(last.timestamp + 1),
      config: { historySize: cfg.maxLen, sequential: { nextContext: 'history' } },
    })) as OnlineEngine;
    const r = await nextLatency(engine, calls, seed, () => {
      engine.setSequential(randomPredictor(numItems, cfg, seed), data.items.map((i) => i.id), 'sasrec@random');
      return 'random weights';
    });
    await engine.close();
    return { store: 'synthetic', users: data.users.length, items: data.items.length, events: data.events.length, ...r };
  } finally {
    await store.close();
  }
}

async function engineOnStore(db: string, dataDir: string, maxLen: number, calls: number, seed: number): Promise<Record<string, unknown>> {
  const store = await openStore(db);
  try {
    const engine = (await createEngine(store, { config: { historySize: maxLen, sequential: { nextContext: 'history' } } })) as OnlineEngine;
    const stats = engine.stats();
    const r = await nextLatency(engine, calls, seed, () => loadSasrec(engine, new ModelRegistry(dataDir)));
    await engine.close();
    return { store: db, users: stats.users, items: stats.items, events: stats.events, ...r };
  } finally {
    await store.close();
  }
}
