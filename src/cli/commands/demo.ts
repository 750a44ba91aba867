/**
 * `tastemaker demo` — what `npm start` runs. On a fresh machine, with nothing but `npm ci` done, it
 * generates a seeded synthetic music catalog and event log (src/core/synth.ts), writes it to the
 * embedded store in the data dir, creates an admin and a client API key, warms the engine and serves
 * the API, printing the URLs, keys and a curl to try. A second run finds the data and keys and reuses
 * them (the data is generated once per data dir; delete the dir to start over).
 */
import type { Command } from 'commander';
import { loadConfig, printConfig, type Config } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { generateSynthetic } from '../../core/synth.js';
import { attachRegistry, createEngine, type OnlineEngine } from '../../engine/index.js';
import { Ingestor } from '../../ingest/ingestor.js';
import type { BuildReport } from '../../search/from-store.js';
import { ensureKeyFile } from '../../serve/keys.js';
import { LiveSearch } from '../../serve/live-search.js';
import { startServer, untilShutdown, type RunningServer } from '../../serve/server.js';
import { openStore, type Store } from '../../store/index.js';
import { maybeStartTrainer, modelsStatus, type TrainerChild } from '../../train/index.js';

const DAY_MS = 86_400_000;
/** Rows per store transaction while loading the demo data. */
const WRITE_BATCH = 10_000;
const META_KEY = 'demo.dataset';
/** Set before the first write of a demo load, so an interrupted load is told apart from a foreign store. */
const LOADING_KEY = 'demo.loading';
/** Recent events inspected to pick example ids in a store the demo did not generate. */
const RECENT_EVENTS = 5_000;

export interface DemoOptions {
  dataDir?: string;
  port?: number;
  host?: string;
  users?: number;
  items?: number;
  /** Mean events per user (the log has about users × eventsPerUser events). */
  eventsPerUser?: number;
  seed?: number;
  /** Request/engine logs as JSON lines on stdout. */
  logger?: boolean;
  /** Environment for config (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Log the resolved config (secrets masked) at start. */
  printConfig?: boolean;
  /** Progress lines (default: stderr). */
  log?: (msg: string) => void;
  /** Run the trainer in a child process (default true): the first round starts seconds after listening. */
  train?: boolean;
}

/** What the demo data dir holds, recorded in the store's meta once the load completes. */
interface DemoDataset {
  seed: number;
  users: number;
  items: number;
  events: number;
  /** A user with a typical amount of history, for the printed curl. */
  exampleUserId: string;
  /** An item with co-occurrence signal, for the similar curl. */
  exampleItemId: string;
  generatedAt: string;
}

export interface DemoHandle extends RunningServer {
  config: Config;
  keys: { admin: string; client: string };
  dataset: DemoDataset;
  /** False when the data dir already held the demo data. */
  generated: boolean;
  timingsMs: { load: number; engine: number; listen: number; total: number };
  /** The search index, built in the background after listening (search answers 503 until then). */
  search: LiveSearch;
  /** Settles when the search index build ends (undefined: failed or closed first). */
  searchReady: Promise<BuildReport | undefined>;
  /** The trainer child (undefined with train: false). */
  trainer?: TrainerChild;
}

/** Generates the synthetic world and writes it through the store in bounded transactions. */
async function loadDemoData(store: Store, o: Required<Pick<DemoOptions, 'users' | 'items' | 'eventsPerUser' | 'seed'>>, log: (m: string) => void): Promise<DemoDataset> {
  const days = 60;
  // The simulated period ends now, so trending and fresh have recent activity to show.
  const startMs = Date.now() - days * DAY_MS;
  const data = generateSynthetic({
    seed: o.seed,
    users: o.users,
    items: o.items,
    creators: Math.max(1, Math.round(o.items / 8)),
    days,
    eventsPerUser: o.eventsPerUser,
    startMs,
  });
  log(`generated ${data.items.length} items, ${data.users.length} users, ${data.events.length} events; writing…`);
  for (let i = 0; i < data.items.length; i += WRITE_BATCH) await store.upsertItems(data.items.slice(i, i + WRITE_BATCH));
  for (let i = 0; i < data.users.length; i += WRITE_BATCH) await store.upsertUsers(data.users.slice(i, i + WRITE_BATCH));
  for (let i = 0; i < data.events.length; i += WRITE_BATCH) await store.appendEvents(data.events.slice(i, i + WRITE_BATCH));

  // Example ids: the user at the median of activity, and the most consumed item.
  const perUser = new Map<string, number>();
  const perItem = new Map<string, number>();
  for (const e of data.events) {
    perUser.set(e.userId, (perUser.get(e.userId) ?? 0) + 1);
    perItem.set(e.itemId, (perItem.get(e.itemId) ?? 0) + 1);
  }
  const byActivity = [...perUser.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const topItem = [...perItem.entries()].reduce((best, cur) => (cur[1] > best[1] ? cur : best), ['', -1]);
  return {
    seed: o.seed,
    users: data.users.length,
    items: data.items.length,
    events: data.events.length,
    exampleUserId: byActivity.length ? byActivity[Math.floor(byActivity.length / 2)][0] : data.users[0].id,
    exampleItemId: topItem[0] || data.items[0].id,
    generatedAt: new Date().toISOString(),
  };
}

/** Counts and example ids for a store the demo did not fill (examples from the most recent events). */
async function describeStore(store: Store): Promise<DemoDataset> {
  const lastSeq = await store.lastEventSeq();
  let exampleUserId = '';
  let exampleItemId = '';
  for await (const batch of store.scanEvents({ afterSeq: Math.max(0, lastSeq - RECENT_EVENTS), batchSize: RECENT_EVENTS })) {
    const last = batch[batch.length - 1];
    if (last) [exampleUserId, exampleItemId] = [last.userId, last.itemId];
  }
  if (!exampleItemId) exampleItemId = (await store.scanItems({ limit: 1 }))[0]?.id ?? '';
  return {
    seed: -1,
    users: await store.countUsers(),
    items: await store.countItems(),
    events: await store.countEvents(),
    exampleUserId: exampleUserId || 'some-user',
    exampleItemId: exampleItemId || 'some-item',
    generatedAt: '',
  };
}

/** Starts the demo and returns once it is serving; `close()` stops it. */
export async function startDemo(opts: DemoOptions = {}): Promise<DemoHandle> {
  const t0 = performance.now();
  const log = opts.log ?? ((m: string) => console.error(m));
  const env = opts.env ?? process.env;
  const base = loadConfig({ env, flags: { dataDir: opts.dataDir, port: opts.port, host: opts.host } });
  const size = {
    users: opts.users ?? 2_000,
    items: opts.items ?? 5_000,
    eventsPerUser: opts.eventsPerUser ?? 100,
    seed: opts.seed ?? 42,
  };

  const store = await openStore(base.store);
  let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
  try {
    const existing = await store.getMeta(META_KEY);
    let dataset: DemoDataset;
    let generated = false;
    if (existing) {
      // Counts from the store as it is now (deletions and later ingests included), not as generated.
      const counts = { users: await store.countUsers(), items: await store.countItems(), events: await store.countEvents() };
      dataset = { ...(JSON.parse(existing) as DemoDataset), ...counts };
      log(`reusing demo data in ${base.dataDir} (${dataset.items} items, ${dataset.users} users, ${dataset.events} events);`);
      log('  the size and seed options apply to the first run only: delete the data dir to generate anew');
    } else if (!(await store.getMeta(LOADING_KEY)) && ((await store.countItems()) > 0 || (await store.countEvents()) > 0)) {
      // Someone imported their own data here: serve it, never mix synthetic rows into it.
      dataset = await describeStore(store);
      log(`${base.store} holds data the demo did not generate (${dataset.items} items, ${dataset.events} events): serving it as is`);
    } else {
      log(`generating demo data in ${base.dataDir} (seed ${size.seed})…`);
      await store.setMeta(LOADING_KEY, String(size.seed));
      dataset = await loadDemoData(store, size, log);
      // Written last: an interrupted load is redone next time (writes are idempotent).
      await store.setMeta(META_KEY, JSON.stringify(dataset));
      generated = true;
    }
    const tLoad = performance.now();
    if (opts.printConfig) log(`config: ${JSON.stringify(JSON.parse(printConfig(base)))}`);

    // Keys from config/env win; otherwise the demo's own key file in the data dir.
    const fileKeys = base.adminKeys.length === 0 || base.clientKeys.length === 0 ? ensureKeyFile(base.dataDir) : undefined;
    const config: Config = {
      ...base,
      adminKeys: base.adminKeys.length ? base.adminKeys : [fileKeys!.admin],
      clientKeys: base.clientKeys.length ? base.clientKeys : [fileKeys!.client],
    };

    engine = await createEngine(store, { config: { ...config.engine, eventWeights: config.eventWeights } });
    // Trained models (`tastemaker train` into this data dir) join as candidate sources, and a newly
    // activated version is picked up while serving.
    const stopRegistry = attachRegistry(engine as OnlineEngine, base.dataDir, log);
    const tEngine = performance.now();
    const search = new LiveSearch(engine);
    const ingestor = new Ingestor(store, search.listeners(), { time: config.ingest, autoInsertItems: config.autoInsertItems });
    let server: RunningServer;
    // Assigned after listening; close() stops whichever child is running then.
    const trainerRef: { child?: TrainerChild } = {};
    try {
      server = await startServer({
        engine, ingestor, config, logRequests: opts.logger, search,
        models: () => modelsStatus(base.dataDir),
        trainer: { stop: async () => trainerRef.child?.stop() },
      });
    } catch (e) {
      stopRegistry();
      throw e;
    }
    const tListen = performance.now();
    trainerRef.child = maybeStartTrainer(opts.train !== false, config, env, log);
    log('building the search index in the background…');
    const searchReady = search.build(store, log);
    return {
      ...server,
      close: async () => {
        stopRegistry();
        await server.close();
      },
      config,
      keys: { admin: config.adminKeys[0], client: config.clientKeys[0] },
      dataset,
      generated,
      timingsMs: {
        load: Math.round(tLoad - t0),
        engine: Math.round(tEngine - tLoad),
        listen: Math.round(tListen - tEngine),
        total: Math.round(tListen - t0),
      },
      search,
      searchReady,
      trainer: trainerRef.child,
    };
  } catch (e) {
    if (engine) await engine.close();
    await store.close();
    throw e;
  }
}

/** The start-up banner: where to point a browser or curl. */
export function demoBanner(h: DemoHandle): string {
  const u = h.dataset.exampleUserId;
  const i = h.dataset.exampleItemId;
  return [
    '',
    `Tastemaker demo is serving at ${h.url}  (ready in ${(h.timingsMs.total / 1000).toFixed(1)} s)`,
    '',
    `  health    ${h.url}/healthz   (models: which versions serve; the trainer's first round starts in seconds)`,
    `  metrics   ${h.url}/metrics`,
    `  openapi   ${h.url}/openapi.json`,
    '',
    `  admin key   ${h.keys.admin}`,
    `  client key  ${h.keys.client}`,
    '',
    'Try:',
    `  curl -H 'Authorization: Bearer ${h.keys.client}' '${h.url}/v1/recommend/${u}?n=20'`,
    `  curl -H 'Authorization: Bearer ${h.keys.client}' '${h.url}/v1/similar/${i}?n=10'`,
    `  curl -H 'Authorization: Bearer ${h.keys.client}' '${h.url}/v1/search?q=night&n=5'   (503 while the index builds)`,
    `  curl -H 'Authorization: Bearer ${h.keys.admin}' -H 'content-type: application/json' \\`,
    `       -d '[{"userId":"${u}","itemId":"${i}","type":"like"}]' ${h.url}/v1/events`,
    '',
    'Ctrl-C stops the server; the next run reuses the data in the data dir.',
    '',
  ].join('\n');
}

function intOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    const v = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || v < min || v > max) {
      throw new ValidationError(`--${name} must be an integer in ${min}..${max}`, [{ path: name, message: `expected an integer in ${min}..${max}` }]);
    }
    return v;
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('generate a demo catalog and events (first run), warm the engine and serve the API')
    .option('--port <n>', 'port to listen on (env PORT, default 8080)', intOption('port', 0, 65_535))
    .option('--host <host>', 'interface to bind (env HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'where the demo store and keys live (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--users <n>', 'synthetic users (first run only)', intOption('users', 1, 1_000_000), 2_000)
    .option('--items <n>', 'synthetic items (first run only)', intOption('items', 1, 1_000_000), 5_000)
    .option('--events-per-user <n>', 'mean events per user (first run only)', intOption('events-per-user', 1, 100_000), 100)
    .option('--seed <n>', 'generator seed (first run only)', intOption('seed', 0, 0xffffffff), 42)
    .option('--log', 'log requests as JSON lines', false)
    .option('--no-train', 'do not run the trainer child (models stay as they are)')
    .action(async (o: { port?: number; host?: string; dataDir?: string; users: number; items: number; eventsPerUser: number; seed: number; log: boolean; train: boolean }) => {
      const handle = await startDemo({
        port: o.port,
        host: o.host,
        dataDir: o.dataDir,
        users: o.users,
        items: o.items,
        eventsPerUser: o.eventsPerUser,
        seed: o.seed,
        logger: o.log,
        printConfig: true,
        train: o.train,
      });
      console.log(demoBanner(handle));
      await untilShutdown(handle);
    });
}
