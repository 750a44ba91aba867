/**
 * Process lifecycle shared by `tastemaker serve` and `tastemaker demo`: listen, and on SIGINT/SIGTERM
 * stop accepting connections, let in-flight requests finish, then close the engine and the store (in
 * that order, so nothing writes to a closed store). A second signal during shutdown exits at once.
 */
import type { Config } from '../core/config.js';
import { UnavailableError } from '../core/errors.js';
import type { Engine } from '../engine/types.js';
import { buildApp, type BatchIngestor, type TastemakerApp } from './app.js';
import type { SearchHolder } from './live-search.js';
import type { ModelsStatus } from '../train/status.js';

export interface RunningServer {
  app: TastemakerApp;
  /** Base URL, e.g. http://127.0.0.1:8080 (the real port when config.port is 0). */
  url: string;
  port: number;
  /** Closes the HTTP server, then the engine, then the store. Idempotent. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  engine: Engine;
  ingestor: BatchIngestor;
  config: Config;
  /** Log one line per request (config.logLevel); otherwise only warnings and errors. */
  logRequests?: boolean;
  /** Serves /v1/search and /v1/suggest through this holder (503 until its index is ready); closed first on close. */
  search?: SearchHolder & { close?(): void };
  /** GET /v1/models and the models/trainer part of /healthz (see BuildAppOptions.models). */
  models?: () => ModelsStatus;
  /** Stopped first on close (the trainer child). */
  trainer?: { stop(): Promise<void> };
}

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { engine, ingestor, config } = opts;
  const app = buildApp({ engine, ingestor, config, search: opts.search, models: opts.models, defaultMetrics: true, logLevel: opts.logRequests ? config.logLevel : 'warn' });
  try {
    await app.listen({ port: opts.config.port, host: opts.config.host });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new UnavailableError(`cannot listen on ${opts.config.host}:${opts.config.port} (${code})`, [
        { path: code === 'EADDRNOTAVAIL' ? 'host' : 'port', message: 'choose another with --port/PORT or --host/HOST' },
      ]);
    }
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.config.port;
  const shownHost = opts.config.host === '0.0.0.0' || opts.config.host === '::' ? '127.0.0.1' : opts.config.host;
  const hostPart = shownHost.includes(':') ? `[${shownHost}]` : shownHost;
  let closing: Promise<void> | undefined;
  return {
    app,
    port,
    url: `http://${hostPart}:${port}`,
    close: () =>
      (closing ??= (async () => {
        opts.search?.close?.();
        await Promise.all([opts.trainer?.stop(), app.close()]);
        await opts.engine.close();
        await opts.engine.store.close();
      })()),
  };
}

/** Resolves once a SIGINT or SIGTERM has been handled by closing `server`. */
export function untilShutdown(server: RunningServer, log: (msg: string) => void = console.error): Promise<void> {
  return new Promise((resolve, reject) => {
    let signalled = false;
    let firstAt = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      // The same Ctrl-C can arrive twice within milliseconds (the terminal signals the process group, and
      // bin/tastemaker.mjs forwards it to its serving child): only a later one means "do not wait".
      if (signalled && Date.now() - firstAt < 1_000) return;
      if (signalled) {
        log(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      signalled = true;
      firstAt = Date.now();
      log(`${signal}: shutting down (in-flight requests finish first)…`);
      server.close().then(
        () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          log('stopped');
          resolve();
        },
        (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
