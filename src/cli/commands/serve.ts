/**
 * `tastemaker serve --db <path> --port <n>` — serve the HTTP API over an existing store. API keys come
 * from config (TASTEMAKER_ADMIN_KEYS / TASTEMAKER_CLIENT_KEYS or the config file); without any, keys are
 * generated once into `keys.json` (mode 0600) beside the SQLite file and printed.
 */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, printConfig, type Config } from '../../core/config.js';
import { UnavailableError, ValidationError } from '../../core/errors.js';
import { attachRegistry, createEngine, type OnlineEngine } from '../../engine/index.js';
import { Ingestor } from '../../ingest/ingestor.js';
import { ensureKeyFile } from '../../serve/keys.js';
import { LiveSearch } from '../../serve/live-search.js';
import { startServer, untilShutdown } from '../../serve/server.js';
import { openStore, parseStoreUrl } from '../../store/index.js';
import { maybeStartTrainer, modelsStatus, type TrainerChild } from '../../train/index.js';

function portOption(raw: string): number {
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || v > 65_535) {
    throw new ValidationError('--port must be an integer in 0..65535', [{ path: 'port', message: 'expected an integer in 0..65535' }]);
  }
  return v;
}

/** Config keys, or the key file beside a SQLite store. */
function withKeys(config: Config, log: (m: string) => void): Config {
  if (config.adminKeys.length > 0 || config.clientKeys.length > 0) return config;
  const target = parseStoreUrl(config.store);
  if (target.kind !== 'sqlite' || target.path === ':memory:') {
    throw new UnavailableError('no API keys configured', [
      { path: 'adminKeys', message: 'set TASTEMAKER_ADMIN_KEYS and TASTEMAKER_CLIENT_KEYS (comma-separated)' },
    ]);
  }
  const keys = ensureKeyFile(dirname(resolve(target.path)));
  log(`${keys.created ? 'generated' : 'using'} API keys from ${keys.path}`);
  return { ...config, adminKeys: [keys.admin], clientKeys: [keys.client] };
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API over a store')
    .option('--db <url>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE, default <data-dir>/tastemaker.db)')
    .option('--port <n>', 'port to listen on (env PORT, default 8080)', portOption)
    .option('--host <host>', 'interface to bind (env HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'data dir (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file (env TASTEMAKER_CONFIG)')
    .option('--log', 'log requests as JSON lines', false)
    .option('--no-train', 'do not run the trainer child process (run `tastemaker trainer` elsewhere, or none)')
    .option('--no-search', 'skip the search index (/v1/search and /v1/suggest are not served); for catalogs where its background build would compete with recommend traffic')
    .action(async (o: { db?: string; port?: number; host?: string; dataDir?: string; config?: string; log: boolean; search: boolean; train: boolean }) => {
      const log = (m: string): void => console.error(m);
      const base = loadConfig({
        env: process.env,
        file: o.config,
        flags: { store: o.db, port: o.port, host: o.host, dataDir: o.dataDir },
      });
      const config = withKeys(base, log);
      log(`config:\n${printConfig(config)}`);
      const store = await openStore(config.store);
      let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
      try {
        const t0 = performance.now();
        engine = await createEngine(store, { config: { ...config.engine, eventWeights: config.eventWeights } });
        attachRegistry(engine as OnlineEngine, config.dataDir, log);
        // What the store holds (maintained counts), not every id the event log mentions.
        const counts = [await store.countItems(), await store.countUsers(), await store.countEvents()];
        log(`engine ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${counts[0]} items, ${counts[1]} users, ${counts[2]} events`);
        const search = o.search ? new LiveSearch(engine) : undefined;
        const ingestor = new Ingestor(store, search ? search.listeners() : engine, { time: config.ingest, autoInsertItems: config.autoInsertItems });
        // Assigned after listening; close() stops whichever child is running then.
        const trainerRef: { child?: TrainerChild } = {};
        const server = await startServer({
          engine, ingestor, config, logRequests: o.log, search,
          models: () => modelsStatus(config.dataDir),
          trainer: { stop: async () => trainerRef.child?.stop() },
        });
        trainerRef.child = maybeStartTrainer(o.train, config, process.env, log, o.config);
        console.log(`serving at ${server.url}  (health ${server.url}/healthz, API docs ${server.url}/openapi.json)`);
        if (search) {
          // After listening: /v1/search and /v1/suggest answer 503 until this finishes.
          log('building the search index in the background…');
          void search.build(store, log);
        }
        if (base.adminKeys.length === 0 && base.clientKeys.length === 0) {
          console.log(`admin key:  ${config.adminKeys[0]}\nclient key: ${config.clientKeys[0]}`);
        }
        await untilShutdown(server);
      } catch (e) {
        if (engine) await engine.close().catch(() => undefined);
        await store.close().catch(() => undefined);
        throw e;
      }
    });
}
