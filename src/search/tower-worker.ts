/**
 * Trains the search content tower off the event loop. Training is synchronous (seconds to minutes of
 * CPU), so a serving process cannot run it on its main thread; here a worker thread opens the SQLite
 * store read-only by path (WAL lets it read beside the writing server), trains on the same catalog and
 * events as buildSearchIndexFromStore, and hands the weights back as transferred ArrayBuffers, which
 * the caller loads into its live index (SearchIndex.loadEncoderState).
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { UnavailableError, ValidationError, issuesFromSchema } from '../core/errors.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { TrainConfigSchema, type EncoderState, type TrainConfigInput } from './encoder.js';
import { trainTowerFromStore, type BuildReport } from './from-store.js';

const JobSchema = z.strictObject({
  storePath: z.string().min(1),
  train: z.custom<TrainConfigInput>((v) => TrainConfigSchema.safeParse(v ?? {}).success).optional(),
});
export type TowerJob = z.input<typeof JobSchema>;

/** The database file behind a store, when it has one a second connection can open (not ':memory:'). */
export function storeFilePath(store: object): string | undefined {
  const path = (store as { path?: unknown }).path;
  if (typeof path !== 'string' || path === '' || path === ':memory:' || path.startsWith('file:')) return undefined;
  return existsSync(path) ? path : undefined;
}

/** Worker side: opens the store read-only, trains, closes. */
export async function runTowerJob(job: unknown): Promise<{ state: EncoderState; report: BuildReport } | undefined> {
  const r = JobSchema.safeParse(job);
  if (!r.success) {
    throw new ValidationError(
      'invalid tower job',
      issuesFromSchema(r.error.issues, 'job'),
    );
  }
  const store = new SqliteStore(r.data.storePath, { readonly: true });
  try {
    return await trainTowerFromStore(store, { train: r.data.train });
  } finally {
    await store.close();
  }
}

export interface TowerTraining {
  /** The trained state (undefined: fewer than 2 items) and the worker's build report; rejects on failure. */
  done: Promise<{ state: EncoderState; report: BuildReport } | undefined>;
  /** Stops the worker; `done` then rejects. */
  terminate(): void;
}

type Reply = { ok: true; state?: EncoderState; report?: BuildReport } | { ok: false; error: string };

/** Main-thread side: starts a worker training the tower on the store file at `storePath`. */
export function trainTowerOffThread(storePath: string, train?: TrainConfigInput): TowerTraining {
  const job: TowerJob = { storePath, train };
  const worker = new Worker(new URL('./tower-worker.mjs', import.meta.url), { workerData: job });
  // A server shutting down must not wait for training; close() terminates it anyway.
  worker.unref();
  let settled = false;
  const done = new Promise<{ state: EncoderState; report: BuildReport } | undefined>((resolve, reject) => {
    worker.once('message', (m: Reply) => {
      settled = true;
      void worker.terminate();
      if (!m.ok) reject(new UnavailableError(`content tower training failed: ${m.error}`));
      else resolve(m.state && m.report ? { state: m.state, report: m.report } : undefined);
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new UnavailableError(`content tower worker exited (code ${code}) before replying`));
      settled = true;
    });
  });
  return {
    done,
    terminate: () => {
      void worker.terminate();
    },
  };
}
