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
 *   tastemaker bench next --json [--items 3416] [--max-len 200] [--dim 64] [--blocks 2] [--calls 300]
 *                               [--big-items 100000] [--users 6040] [--events-per-user 100]
 */
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/core/clock.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine, type OnlineEngine } from '../src/engine/index.js';
import { Kernels } from '../src/models/kernels/index.js';
import { SasrecConfig, SasrecModel } from '../src/models/sasrec.js';
import { SasrecPredictor } from '../src/models/sasrec-serve.js';
import { MemoryStore } from '../src/store/memory.js';

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

  // 3. The whole `next` request with and without the source, at ML-1M scale.
  const data = generateSynthetic({ seed, users: num('users'), items: numItems, creators: Math.max(1, Math.round(numItems / 8)), days: 30, eventsPerUser: num('events-per-user'), startMs: Date.UTC(2026, 0, 1) });
  const store = new MemoryStore();
  await store.upsertItems(data.items);
  for (let i = 0; i < data.events.length; i += 10_000) await store.appendEvents(data.events.slice(i, i + 10_000));
  const last = data.events[data.events.length - 1];
  const engine = (await createEngine(store, {
    clock: new ManualClock(last.timestamp + 1),
    config: { historySize: cfg.maxLen, sequential: { nextContext: 'history' } },
  })) as OnlineEngine;
  const measure = async (): Promise<ReturnType<typeof quantiles> & { pagesWithSasrec: number }> => {
    const r = new Rng(seed + 1);
    const ms = new Float64Array(calls);
    let pages = 0;
    for (let c = -20; c < calls; c++) {
      const e = data.events[r.int(data.events.length)];
      const t0 = performance.now();
      const res = await engine.recommend({ userId: e.userId, surface: 'next', n: 20 });
      if (c < 0) continue;
      ms[c] = performance.now() - t0;
      if (res.items.some((i) => i.sources.includes('sasrec'))) pages++;
    }
    return { ...quantiles(ms), pagesWithSasrec: round(pages / calls) };
  };
  const without = await measure();
  engine.setSequential(randomPredictor(numItems, cfg, seed), data.items.map((i) => i.id), 'sasrec@bench');
  const withSource = await measure();
  await engine.close();
  await store.close();

  return {
    bench: 'next',
    model: { items: numItems, ...cfg },
    topK: k,
    predictor_ms_by_input_length: byLength,
    ...(big ? { big_catalogue: big } : {}),
    engine_next_n20: { users: data.users.length, items: data.items.length, events: data.events.length, without_sasrec: without, with_sasrec: withSource },
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}
