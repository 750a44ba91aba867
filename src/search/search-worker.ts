/**
 * The search index of a large catalog, kept in a worker thread. Building it in the serving process's
 * main thread — even in pages that yield to the event loop — starved recommendation traffic at a million
 * items (p99 848 ms at 245 req/s; docs/benchmarks.md ## Search at 1M items while serving): the indexing
 * CPU and, above all, the major GCs of a heap holding millions of postings, terms and maps landed on
 * the request path. So the whole index lives in a worker (search-worker-host.ts): the worker builds it
 * from a read-only SQLite connection (WAL lets it read beside the writing server, as the tower worker
 * does) and then keeps it, answering searches and suggestions by message; the main thread only posts
 * writes (O(batch)) and awaits answers. Nothing the size of the catalog ever crosses the thread boundary.
 *
 * Protocol (one MessagePort, ordered both ways):
 *   main → worker  upsert | remove | events            (fire and forget; queued by the worker until built)
 *                  search | suggest | encoder | info    (request id → one `reply`)
 *                  neighbours                           (answered through shared memory, see below)
 *   worker → main  ready | failed (once), reply
 * Because the port is ordered, a search posted after an upsert sees it, as in process.
 *
 * Content neighbours (the engine's cold-start candidate source) are asked synchronously by the
 * recommendation pipeline, so they cannot await a message: the main thread posts the request and
 * blocks in Atomics.wait on a SharedArrayBuffer until the worker writes the answer there (well under a
 * millisecond when the worker is idle), for at most `contentTimeoutMs`. A worker busy with a long step
 * (re-embedding after a tower swap, an ANN rebuild, a slow search) makes the source answer nothing at
 * once rather than stall a recommendation: it is a back-fill, and at most one request is ever
 * outstanding. Deviation from the in-process source: the engine's filter runs on the main thread, so
 * the worker over-fetches (2n + 50) and the main thread filters; a very selective filter can leave fewer
 * than n.
 */
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { ConflictError, NotFoundError, UnavailableError, ValidationError, type FieldIssue } from '../core/errors.js';
import type { EncoderState, TrainConfigInput } from './encoder.js';
import type { BuildReport } from './from-store.js';
import type { SearchService } from './routes.js';
import type { SearchConfigInput, SearchItem, SearchQuery, SearchResult } from './search-index.js';
import type { Suggestion } from './suggest.js';

/** Slots of the control array (Int32Array over a SharedArrayBuffer). */
export const CTL = { latest: 0, replied: 1, length: 2, busy: 3 } as const;
const CTL_SLOTS = 4;
/** Bytes for one neighbours answer (JSON [ids, scores]); an answer that does not fit is halved. */
export const REPLY_BYTES = 4 << 20;
/** Neighbours asked of the worker at most (SearchIndex.contentNeighbours' own bound). */
export const MAX_NEIGHBOURS = 5_000;

export const SearchJobSchema = z.strictObject({
  storePath: z.string().min(1),
  /** SearchIndex config (validated by SearchIndex itself). */
  config: z.custom<SearchConfigInput>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
  /** Content-tower training of the build (serve: 0 steps; the tower worker trains it afterwards). */
  train: z.custom<TrainConfigInput>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
  /** Native threads for the ANN graph build (0 = all cores; 1 leaves the other core to the server). */
  annThreads: z.number().int().min(0).max(256).default(1),
  /**
   * Build the ANN graph right after ready (default). False when a trained tower is about to be swapped
   * in: its re-embedding would discard the graph, so it is built after the swap (or on `ann`).
   */
  annOnReady: z.boolean().default(true),
  /** Items re-embedded per step of a tower swap; queries are answered between steps. */
  swapChunk: z.number().int().min(1).max(1_000_000).default(5_000),
  /**
   * Vectors added to the graph per step; queries are answered between steps. At 1M items a query
   * waiting behind the build took p50 78 ms / p99 268 ms with 250, p50 972 ms / p99 2.9 s with 2,000.
   */
  annChunk: z.number().int().min(1).max(1_000_000).default(250),
  /** Writes queued while the index builds; past this the oldest are dropped (and reported). */
  maxPending: z.number().int().min(1).max(10_000_000).default(100_000),
  control: z.instanceof(SharedArrayBuffer).refine((b) => b.byteLength === CTL_SLOTS * 4, 'must hold 4 int32 slots'),
  reply: z.instanceof(SharedArrayBuffer).refine((b) => b.byteLength >= 1024, 'must hold at least 1 KiB'),
});
export type SearchJob = z.input<typeof SearchJobSchema>;

/** A search-click (or any) event as the index reads it. */
export interface ClickEvent {
  type: string;
  itemId: string;
  context?: Record<string, unknown>;
}

export type ToWorker =
  | { kind: 'upsert'; items: SearchItem[] }
  | { kind: 'remove'; ids: string[] }
  | { kind: 'events'; events: ClickEvent[] }
  | { kind: 'search'; id: number; query: SearchQuery }
  | { kind: 'suggest'; id: number; q: string; n: number }
  | { kind: 'encoder'; id: number; state: EncoderState }
  | { kind: 'info'; id: number }
  | { kind: 'build-ann' }
  | { kind: 'neighbours'; seq: number; seedIds: string[]; n: number };

/** An error crossing the thread boundary: enough to rebuild the typed error (and its HTTP status). */
export interface WireError {
  status: number;
  message: string;
  issues: FieldIssue[];
}

/** What the worker reports about its index. */
export interface SearchWorkerInfo {
  size: number;
  towerVersion: number;
  dims: number;
  /** Writes that failed validation in the worker (they would have thrown in process). */
  writeErrors: number;
}

export interface SearchWorkerReady {
  report: BuildReport;
  /** Writes dropped from the build-time queue (over maxPending). */
  dropped: number;
  /** Writes queued during the build and applied before ready. */
  replayed: number;
}

/** The ANN graph is complete (semantic retrieval and content neighbours use it from now on). */
export interface SearchWorkerAnn {
  seconds: number;
  size: number;
}

export type FromWorker =
  | ({ kind: 'ready' } & SearchWorkerReady)
  | ({ kind: 'ann' } & SearchWorkerAnn)
  | { kind: 'failed'; error: string }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: WireError };

export function toWireError(e: unknown): WireError {
  const err = e as { status?: unknown; message?: unknown; issues?: unknown };
  return {
    status: typeof err?.status === 'number' ? err.status : 500,
    message: typeof err?.message === 'string' ? err.message : String(e),
    issues: Array.isArray(err?.issues) ? (err.issues as FieldIssue[]) : [],
  };
}

function fromWireError(w: WireError): Error {
  switch (w.status) {
    case 400:
      return new ValidationError(w.message, w.issues);
    case 404:
      return new NotFoundError(w.message, w.issues);
    case 409:
      return new ConflictError(w.message, w.issues);
    case 503:
      return new UnavailableError(w.message, w.issues);
    default:
      return new Error(`search worker: ${w.message}`);
  }
}

/** Limits on the main-thread side. */
const MAX_IN_FLIGHT = 4_096;
const REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_CONTENT_TIMEOUT_MS = 10;

/** A request without its id (distributes over the union, which Omit alone does not). */
type RequestBody = Extract<ToWorker, { id: number }> extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Counters of the synchronous content channel (for logs, tests and the benchmark). */
export interface ContentChannelStats {
  answered: number;
  /** Asked while the previous request was unanswered or the worker busy: answered empty at once. */
  skipped: number;
  /** Waited contentTimeoutMs without an answer. */
  timedOut: number;
}

/**
 * Main-thread client of a search worker. `ready` resolves once the index is built (rejects when the
 * build fails or the worker dies first); writes posted before then are queued by the worker and applied
 * before it reports ready, so none is lost.
 */
export class SearchWorkerClient implements SearchService {
  readonly ready: Promise<SearchWorkerReady>;
  private onAnn: (a: SearchWorkerAnn) => void = () => undefined;
  /**
   * Resolves once the ANN graph of the first build is complete (the worker keeps answering meanwhile:
   * semantic retrieval by exact scan, content neighbours empty). Never rejects; stays pending when the
   * worker dies first.
   */
  readonly annReady: Promise<SearchWorkerAnn> = new Promise((resolve) => (this.onAnn = resolve));
  readonly contentStats: ContentChannelStats = { answered: 0, skipped: 0, timedOut: 0 };
  private readonly worker: Worker;
  private readonly ctl: Int32Array;
  private readonly replyBytes: Uint8Array;
  private readonly decoder = new TextDecoder();
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;
  private isReady = false;
  private dead: Error | undefined;
  private readonly contentTimeoutMs: number;

  constructor(job: Omit<SearchJob, 'control' | 'reply'>, opts: { contentTimeoutMs?: number } = {}) {
    this.contentTimeoutMs = opts.contentTimeoutMs ?? DEFAULT_CONTENT_TIMEOUT_MS;
    const control = new SharedArrayBuffer(CTL_SLOTS * 4);
    const reply = new SharedArrayBuffer(REPLY_BYTES);
    this.ctl = new Int32Array(control);
    this.replyBytes = new Uint8Array(reply);
    const full: SearchJob = { ...job, control, reply };
    this.worker = new Worker(new URL('./search-worker.mjs', import.meta.url), { workerData: full });
    // A server shutting down must not wait for the index; close() terminates it anyway.
    this.worker.unref();
    this.ready = new Promise<SearchWorkerReady>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.kind === 'ready') {
          this.isReady = true;
          resolve({ report: m.report, dropped: m.dropped, replayed: m.replayed });
        } else if (m.kind === 'ann') this.onAnn({ seconds: m.seconds, size: m.size });
        else if (m.kind === 'failed') {
          this.fail(new UnavailableError(`search index build failed: ${m.error}`));
          reject(this.dead);
        } else this.settle(m);
      });
      this.worker.once('error', (e) => {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        reject(this.dead);
      });
      this.worker.once('exit', (code) => {
        this.fail(new UnavailableError(`search worker exited (code ${code})`));
        reject(this.dead);
      });
    });
    // Callers that only use service() must not see an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** True once built, until the worker dies or is terminated. */
  get alive(): boolean {
    return this.isReady && this.dead === undefined;
  }

  /** Called once when the worker fails, dies or is terminated (after which every call answers 503). */
  onFailure: ((e: Error) => void) | undefined;

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    this.onFailure?.(e);
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }

  private settle(m: Extract<FromWorker, { kind: 'reply' }>): void {
    const w = this.waiters.get(m.id);
    if (!w) return; // timed out already
    this.waiters.delete(m.id);
    clearTimeout(w.timer);
    if (m.ok) w.resolve(m.value);
    else w.reject(fromWireError(m.error));
  }

  private request<T>(msg: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.waiters.size >= MAX_IN_FLIGHT) return Promise.reject(new UnavailableError(`search worker has ${MAX_IN_FLIGHT} requests in flight; retry shortly`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new UnavailableError(`search worker did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.worker.postMessage({ ...msg, id } as ToWorker, transfer);
    });
  }

  private post(msg: ToWorker): void {
    if (!this.dead) this.worker.postMessage(msg);
  }

  searchAsync(query: SearchQuery): Promise<SearchResult> {
    return this.request<SearchResult>({ kind: 'search', query });
  }

  suggest(q: string, n = 10): Promise<Suggestion[]> {
    return this.request<Suggestion[]>({ kind: 'suggest', q, n });
  }

  upsert(items: SearchItem[]): void {
    if (items.length > 0) this.post({ kind: 'upsert', items });
  }

  remove(ids: string[]): void {
    if (ids.length > 0) this.post({ kind: 'remove', ids });
  }

  onEvents(events: ClickEvent[]): void {
    if (events.length > 0) this.post({ kind: 'events', events: events.map((e) => ({ type: e.type, itemId: e.itemId, context: e.context })) });
  }

  /** Swaps a trained content tower into the worker's index (its buffers are transferred, not copied). */
  loadEncoderState(state: EncoderState): Promise<SearchWorkerInfo> {
    return this.request<SearchWorkerInfo>({ kind: 'encoder', state }, [state.weights.buffer as ArrayBuffer, state.idf.buffer as ArrayBuffer]);
  }

  /** Starts the step-wise ANN build now (when the job deferred it and no tower swap is coming). */
  buildAnn(): void {
    this.post({ kind: 'build-ann' });
  }

  info(): Promise<SearchWorkerInfo> {
    return this.request<SearchWorkerInfo>({ kind: 'info' });
  }

  /**
   * SearchIndex.contentNeighbours answered by the worker, synchronously (see the file comment): empty
   * when the worker is not ready, busy, or slower than contentTimeoutMs.
   */
  contentNeighbours(seedIds: readonly string[], n: number, allow?: (itemId: string) => boolean): { itemIds: string[]; scores: number[] } {
    const empty = { itemIds: [], scores: [] };
    if (!Number.isInteger(n) || n < 1 || n > MAX_NEIGHBOURS) {
      throw new ValidationError(`n must be an integer in 1..${MAX_NEIGHBOURS}`, [{ path: 'n', message: `got ${n}` }]);
    }
    if (!this.alive || seedIds.length === 0) return empty;
    const ctl = this.ctl;
    const latest = Atomics.load(ctl, CTL.latest);
    if (Atomics.load(ctl, CTL.replied) !== latest || Atomics.load(ctl, CTL.busy) === 1) {
      this.contentStats.skipped++;
      return empty;
    }
    const seq = latest + 1;
    Atomics.store(ctl, CTL.latest, seq);
    const fetch = allow ? Math.min(MAX_NEIGHBOURS, 2 * n + 50) : n;
    this.worker.postMessage({ kind: 'neighbours', seq, seedIds: seedIds.slice(-200), n: fetch } satisfies ToWorker);
    const deadline = performance.now() + this.contentTimeoutMs;
    for (;;) {
      const replied = Atomics.load(ctl, CTL.replied);
      if (replied === seq) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        this.contentStats.timedOut++;
        return empty;
      }
      Atomics.wait(ctl, CTL.replied, replied, left);
    }
    this.contentStats.answered++;
    const len = Atomics.load(ctl, CTL.length);
    const [ids, scores] = JSON.parse(this.decoder.decode(this.replyBytes.slice(0, len))) as [string[], number[]];
    if (!allow) return { itemIds: ids, scores };
    const itemIds: string[] = [];
    const kept: number[] = [];
    for (let i = 0; i < ids.length && itemIds.length < n; i++) {
      if (!allow(ids[i])) continue;
      itemIds.push(ids[i]);
      kept.push(scores[i]);
    }
    return { itemIds, scores: kept };
  }

  /** Stops the worker; pending requests reject and the client answers nothing from then on. */
  terminate(): void {
    this.fail(new UnavailableError('search worker stopped'));
    void this.worker.terminate();
  }
}
