/**
 * Writes impressions on a worker thread. Measured at 1M items / 1,000 req/s (bench serve): the 50-ms
 * impression flush on the serving thread took 5 ms at the median and 20–40 ms at the tail (B-tree inserts
 * into a large table plus WAL checkpoints), and every request that arrived meanwhile waited — the whole
 * p99 of the serving benchmark. The worker holds its own connection to the same WAL database, so those
 * milliseconds leave the event loop.
 *
 * Guarantees kept from the synchronous path: a batch is retained until the worker acknowledges it; if
 * the worker fails, unacknowledged batches (and later ones) are written on the calling thread (inserts are
 * idempotent on request_id), so nothing accepted is lost; `barrier()` resolves once every batch handed
 * over so far is committed (reads of impressions call it first).
 */
import { Worker } from 'node:worker_threads';

/** One impressions row in column order (see migrations.ts). */
export type ImpressionValues = [string, string, string, number, string | null, string, string, string, string | null, string];

export class ImpressionWriter {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, ImpressionValues[]>();
  private waiters: { seq: number; resolve: () => void }[] = [];
  private failed: Error | undefined;
  private closed = false;

  /** fallback writes rows synchronously on this thread (used after a worker failure). */
  constructor(
    path: string,
    private readonly fallback: (rows: ImpressionValues[]) => void,
    private readonly log: (m: string) => void = (m) => process.stderr.write(`${m}\n`),
  ) {
    this.worker = new Worker(new URL('./impression-worker.mjs', import.meta.url), { workerData: { path }, execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (m: { type: string; seq: number; message?: string }) => {
      if (m.type === 'ack') this.settle(m.seq);
      else if (m.type === 'failed') this.fail(new Error(m.message ?? 'impression write failed'));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`impression worker exited (${code})`));
    });
  }

  /** Hands rows to the worker (or writes them here after a failure). */
  write(rows: ImpressionValues[]): void {
    if (rows.length === 0) return;
    if (this.failed) {
      this.fallback(rows);
      return;
    }
    const seq = ++this.seq;
    this.pending.set(seq, rows);
    this.worker.postMessage({ type: 'write', seq, rows });
  }

  /** Resolves when every batch written so far is committed. */
  barrier(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    const seq = this.seq;
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  async close(): Promise<void> {
    await this.barrier();
    this.closed = true;
    // ref: the worker is unref'd so it never holds a process open, but closing must wait for it.
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }

  private settle(seq: number): void {
    this.pending.delete(seq);
    let lowest = Infinity;
    for (const s of this.pending.keys()) if (s < lowest) lowest = s;
    const ready = this.waiters.filter((w) => w.seq < lowest);
    this.waiters = this.waiters.filter((w) => w.seq >= lowest);
    for (const w of ready) w.resolve();
  }

  private fail(e: Error): void {
    if (this.failed || this.closed) return;
    this.failed = e;
    this.log(`impression worker failed (${e.message}); writing impressions on the main thread`);
    const rows = [...this.pending.entries()].sort((a, b) => a[0] - b[0]);
    this.pending.clear();
    for (const [, r] of rows) this.fallback(r);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}
