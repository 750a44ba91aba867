/**
 * The online loop end to end on the seeded synthetic world: generate → write to a store → createEngine
 * warm-up (replaying the log) → live `onEvents` throughput → per-surface `recommend` latency (including
 * the impression write) → next-item hit rate of the online surfaces on held-out live plays.
 *
 * The last 10% of the log is held out of the store: its first half measures live update throughput, its
 * second half is replayed event by event, and before each sampled `play` the surfaces are asked for 20
 * items (the user's history is excluded, so repeats cannot hit).
 *
 *   tastemaker bench online --json [--users 10000] [--items 50000] [--events-per-user 100] [--store sqlite|memory]
 *                                  [--config '{"cooc":{"alpha":0.5}}']
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/core/clock.js';
import { ValidationError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { Surface } from '../src/core/schemas.js';
import { generateSynthetic } from '../src/core/synth.js';
import { createEngine, type EngineConfigInput } from '../src/engine/index.js';
import { openStore } from '../src/store/index.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Store } from '../src/store/types.js';

const WRITE_BATCH = 5_000;

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      users: { type: 'string', default: '10000' },
      items: { type: 'string', default: '50000' },
      'events-per-user': { type: 'string', default: '100' },
      days: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      store: { type: 'string', default: 'sqlite' },
      requests: { type: 'string', default: '2000' },
      queries: { type: 'string', default: '2000' },
      /** EngineConfig overrides as JSON, e.g. '{"cooc":{"alpha":0.5}}'. */
      config: { type: 'string', default: '{}' },
    },
    strict: true,
  });
  const num = (k: keyof typeof values): number => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v <= 0) throw new ValidationError(`--${k} must be a positive number`, [{ path: `--${k}`, message: 'must be a positive number' }]);
    return v;
  };
  if (values.store !== 'sqlite' && values.store !== 'memory') {
    throw new ValidationError('--store must be sqlite or memory', [{ path: '--store', message: 'must be sqlite or memory' }]);
  }
  const days = num('days');
  let config: EngineConfigInput;
  try {
    config = JSON.parse(values.config) as EngineConfigInput;
  } catch {
    throw new ValidationError('--config must be JSON', [{ path: '--config', message: 'must be a JSON object of EngineConfig overrides' }]);
  }
  const startMs = Date.UTC(2026, 0, 1);

  let t = performance.now();
  const data = generateSynthetic({
    seed: num('seed'),
    users: num('users'),
    items: num('items'),
    creators: Math.max(1, Math.round(num('items') / 8)),
    days,
    eventsPerUser: num('events-per-user'),
    startMs,
  });
  const generateMs = performance.now() - t;
  const events = data.events;
  const stored = Math.floor(events.length * 0.9);
  const liveMid = stored + Math.floor((events.length - stored) / 2);

  const dir = values.store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'tm-bench-online-')) : undefined;
  const store: Store = dir ? await openStore(join(dir, 'bench.db')) : new MemoryStore();
  try {
    t = performance.now();
    for (let i = 0; i < data.items.length; i += WRITE_BATCH) await store.upsertItems(data.items.slice(i, i + WRITE_BATCH));
    for (let i = 0; i < stored; i += WRITE_BATCH) await store.appendEvents(events.slice(i, Math.min(stored, i + WRITE_BATCH)));
    const loadMs = performance.now() - t;

    const clock = new ManualClock(events[stored - 1].timestamp);
    t = performance.now();
    const engine = await createEngine(store, { clock, config });
    const warmMs = performance.now() - t;

    // Live updates (engine only; the store write is the ingest bench's business).
    t = performance.now();
    for (let i = stored; i < liveMid; i += 100) engine.onEvents(events.slice(i, Math.min(liveMid, i + 100)));
    const liveMs = performance.now() - t;
    const liveEvents = liveMid - stored;

    // Latency per surface, at the time of the last applied event.
    clock.set(events[liveMid - 1].timestamp);
    const rng = new Rng(7);
    const requests = num('requests');
    const latency: Record<string, { p50Ms: number; p99Ms: number; meanItems: number }> = {};
    const surfaces: Surface[] = ['home', 'next', 'similar', 'trending', 'fresh'];
    for (const surface of surfaces) {
      const ms = new Float64Array(requests);
      let itemsReturned = 0;
      for (let r = 0; r < requests; r++) {
        const e = events[rng.int(liveMid)];
        const t0 = performance.now();
        const res =
          surface === 'similar'
            ? await engine.similar(e.itemId, 20, { userId: e.userId })
            : await engine.recommend({ userId: e.userId, surface, n: 20, sessionId: e.sessionId });
        ms[r] = performance.now() - t0;
        itemsReturned += res.items.length;
      }
      ms.sort();
      latency[surface] = { p50Ms: round(quantile(ms, 0.5)), p99Ms: round(quantile(ms, 0.99)), meanItems: round(itemsReturned / requests, 1) };
    }

    // Next-item hit rate on the rest of the log, replayed in order.
    const maxQueries = num('queries');
    const plays: number[] = [];
    for (let i = liveMid; i < events.length; i++) if (events[i].type === 'play') plays.push(i);
    const every = Math.max(1, Math.floor(plays.length / maxQueries));
    const sampled = new Set(plays.filter((_, k) => k % every === 0).slice(0, maxQueries));
    const hits: Record<string, number> = { next: 0, home: 0, trending: 0, fresh: 0 };
    let queries = 0;
    for (let i = liveMid; i < events.length; i++) {
      const e = events[i];
      if (sampled.has(i)) {
        clock.set(e.timestamp);
        queries++;
        for (const surface of Object.keys(hits) as Surface[]) {
          const res = await engine.recommend({ userId: e.userId, surface, n: 20, sessionId: e.sessionId });
          if (res.items.some((x) => x.itemId === e.itemId)) hits[surface]++;
        }
      }
      engine.onEvents([e]);
    }
    const stats = engine.stats();
    await engine.close();
    return {
      bench: 'online',
      store: values.store,
      config,
      users: data.users.length,
      items: data.items.length,
      events: events.length,
      generate_ms: Math.round(generateMs),
      generate_events_per_s: Math.round(events.length / (generateMs / 1000)),
      store_load_ms: Math.round(loadMs),
      warm_ms: Math.round(warmMs),
      warm_events_per_s: Math.round(stored / (warmMs / 1000)),
      live_events: liveEvents,
      live_events_per_s: Math.round(liveEvents / (liveMs / 1000)),
      latency_n20: latency,
      hr20_queries: queries,
      'HR@20': Object.fromEntries(Object.entries(hits).map(([k, v]) => [k, round(v / Math.max(1, queries))])),
      engine_events: stats.events,
      rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
  } finally {
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
