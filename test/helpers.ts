/**
 * The real stack for end-to-end tests: a SQLite store in a temp dir, filled from the seeded synthetic
 * generator, the real engine and ingestor, and the HTTP app (driven with app.inject, no sockets).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../src/core/config.js';
import { generateSynthetic, type SyntheticData } from '../src/core/synth.js';
import { createEngine } from '../src/engine/index.js';
import type { Engine } from '../src/engine/types.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { buildApp, type TastemakerApp } from '../src/serve/app.js';
import { openStore, type Store } from '../src/store/index.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const CLIENT_KEY = 'test-client-key-0123456789abcdef';
export const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` } as const;
export const CLIENT = { 'x-api-key': CLIENT_KEY } as const;
export const JSON_ADMIN = { ...ADMIN, 'content-type': 'application/json' } as const;

export interface TestStack {
  app: TastemakerApp;
  store: Store;
  engine: Engine;
  config: Config;
  data: SyntheticData;
  dir: string;
  close(): Promise<void>;
}

export async function startStack(opts: { users?: number; items?: number; eventsPerUser?: number; batchSize?: number } = {}): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tastemaker-e2e-'));
  const config = loadConfig({
    flags: {
      dataDir: dir,
      adminKeys: [ADMIN_KEY],
      clientKeys: [CLIENT_KEY],
      limits: { batchSize: opts.batchSize ?? 1_000, bodyLimitBytes: 1024 * 1024 },
    },
  });
  const store = await openStore(config.store);
  const data = generateSynthetic({
    seed: 7,
    users: opts.users ?? 300,
    items: opts.items ?? 400,
    creators: 50,
    days: 30,
    eventsPerUser: opts.eventsPerUser ?? 30,
    startMs: Date.now() - 30 * 86_400_000,
  });
  await store.upsertItems(data.items);
  await store.upsertUsers(data.users);
  for (let i = 0; i < data.events.length; i += 10_000) await store.appendEvents(data.events.slice(i, i + 10_000));
  const engine = await createEngine(store, { config: { ...config.engine, eventWeights: config.eventWeights } });
  const app = buildApp({ engine, ingestor: new Ingestor(store, engine), config });
  await app.ready();
  let closed = false;
  return {
    app,
    store,
    engine,
    config,
    data,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await engine.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One letter pair swapped inside the longest word: a realistic typo. */
export function typo(title: string): string {
  const words = title.split(' ');
  const w = words.reduce((a, b) => (b.length > a.length ? b : a));
  const i = Math.floor(w.length / 2);
  const t = w.slice(0, i - 1) + w[i] + w[i - 1] + w.slice(i + 1);
  return words.map((x) => (x === w ? t : x)).join(' ');
}
