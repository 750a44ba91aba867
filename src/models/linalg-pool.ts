/**
 * Multi-threaded SPD inverse: the same block kernels as linalg.ts, shared between this thread and
 * worker threads over one SharedArrayBuffer. Cholesky splits each block's panel rows across threads
 * (one hand-off per 32-row block); the triangular inverse and the Gram product hand out independent row
 * blocks from an atomic counter, so uneven block costs balance themselves. Every block is computed by
 * exactly one thread in the same arithmetic order, so results are bit-identical for any thread count.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  ROW_BLOCK,
  choleskyDiagonalBlock,
  choleskyPanelRows,
  invertLowerIntoUpperBlock,
  mirrorLowerToUpper,
  spdInverseInPlace,
  upperGramIntoLowerBlock,
} from './linalg.js';

const MAX_THREADS = 8;
/** Below this size the hand-offs cost more than they save. */
const PARALLEL_MIN_N = 512;

interface Reply {
  ok: boolean;
  ready?: boolean;
  error?: string;
}

export class LinalgPool {
  private readonly workers: Worker[];
  private readonly counters: Int32Array;

  private constructor(workers: Worker[], counters: Int32Array) {
    this.workers = workers;
    this.counters = counters;
  }

  /** threads: total threads including this one (default: the machine's parallelism, capped at 8). */
  static async create(threads = availableParallelism()): Promise<LinalgPool> {
    const t = Math.max(1, Math.min(MAX_THREADS, Math.floor(threads)));
    const counters = new Int32Array(new SharedArrayBuffer(8));
    const workers: Worker[] = [];
    for (let w = 0; w < t - 1; w++) workers.push(new Worker(new URL('./linalg-worker.mjs', import.meta.url), { workerData: { counters } }));
    const pool = new LinalgPool(workers, counters);
    await Promise.all(workers.map((w) => pool.reply(w)));
    return pool;
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** A zeroed n×n Float64Array on shared memory (what `spdInverse` needs to go parallel). */
  static sharedMatrix(n: number): Float64Array {
    return new Float64Array(new SharedArrayBuffer(n * n * 8));
  }

  /** In-place inverse of the SPD matrix a ([n, n], row-major). Falls back to one thread for small n. */
  async spdInverse(a: Float64Array, n: number): Promise<void> {
    if (this.workers.length === 0 || n < PARALLEL_MIN_N || !(a.buffer instanceof SharedArrayBuffer)) {
      spdInverseInPlace(a, n);
      return;
    }
    const diag = new Float64Array(new SharedArrayBuffer(n * 8));
    await this.all({ type: 'bind', a: a.buffer, diag: diag.buffer, n });
    const T = this.threads;
    // 1. Cholesky: the panel rows of each block in T slices (multiples of 4 rows), then its triangle here.
    for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
      const i1 = Math.min(n, i0 + ROW_BLOCK);
      if (i0 > 0) {
        const slice = Math.ceil((i1 - i0) / T / 4) * 4;
        const pending: Promise<void>[] = [];
        this.workers.forEach((w, x) => {
          const r0 = Math.min(i1, i0 + slice * (x + 1));
          const r1 = Math.min(i1, i0 + slice * (x + 2));
          if (r0 < r1) pending.push(this.send(w, { type: 'cholRows', i0, r0, r1 }));
        });
        choleskyPanelRows(a, n, i0, i0, Math.min(i1, i0 + slice));
        await Promise.all(pending);
      }
      choleskyDiagonalBlock(a, n, i0);
    }
    for (let i = 0; i < n; i++) diag[i] = a[i * n + i];
    // 2 and 3: independent blocks from a shared counter.
    for (const [slot, type] of [[0, 'inv'], [1, 'gram']] as const) {
      Atomics.store(this.counters, slot, 0);
      const pending = this.all({ type });
      for (;;) {
        const b = Atomics.add(this.counters, slot, 1) * ROW_BLOCK;
        if (b >= n) break;
        if (slot === 0) invertLowerIntoUpperBlock(a, n, diag, b);
        else upperGramIntoLowerBlock(a, n, b);
      }
      await pending;
    }
    mirrorLowerToUpper(a, n);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  private all(msg: Record<string, unknown>): Promise<void> {
    return Promise.all(this.workers.map((w) => this.send(w, msg))).then(() => undefined);
  }

  private send(w: Worker, msg: Record<string, unknown>): Promise<void> {
    const p = this.reply(w);
    w.postMessage(msg);
    return p;
  }

  private reply(w: Worker): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (r: Reply): void => {
        w.off('error', onError);
        if (r.ok) resolve();
        else reject(new Error(`linalg worker failed: ${r.error ?? 'unknown error'}`));
      };
      const onError = (e: Error): void => {
        w.off('message', onMessage);
        reject(e);
      };
      w.once('message', onMessage);
      w.once('error', onError);
    });
  }
}
