/**
 * Worker threads that share the kernel memory and split big matmuls by output rows. Synchronisation is
 * a per-worker control block in a SharedArrayBuffer (Atomics.wait/notify), not postMessage: a matmul of a
 * training step takes milliseconds, so the hand-off must cost microseconds. The calling thread blocks
 * (Atomics.wait is allowed on Node's main thread) while computing its own share.
 */
import { Worker } from 'node:worker_threads';
import type { KernelExports } from './wasm.js';

const SLOT_INTS = 32;

export class MatmulPool {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private readonly ctrlBuffer: SharedArrayBuffer;
  private jobs = 0;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, size: number) {
    this.ctrlBuffer = new SharedArrayBuffer(size * SLOT_INTS * 4);
    this.ctrl = new Int32Array(this.ctrlBuffer);
    for (let slot = 0; slot < size; slot++) {
      const w = new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: { module, memory, ctrlBuffer: this.ctrlBuffer, slot },
        execArgv: [],
      });
      w.unref();
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs matmul over rows [0, M) split in equal multiples of 4 across the workers and this thread. */
  matmul(k: KernelExports, a: number, b: number, c: number, M: number, N: number, K: number, sai: number, sak: number, ldb: number, ldc: number, acc: number): void {
    const parts = this.workers.length + 1;
    const chunk = Math.ceil(M / parts / 4) * 4;
    this.jobs = (this.jobs + 1) | 0;
    const job = this.jobs;
    let started = 0;
    for (let w = 0; w < this.workers.length; w++) {
      const i0 = Math.min(M, chunk * (w + 1));
      const i1 = Math.min(M, chunk * (w + 2));
      if (i0 >= i1) continue;
      const base = w * SLOT_INTS;
      const args = [a, b, c, i0, i1, N, K, sai, sak, ldb, ldc, acc];
      for (let j = 0; j < args.length; j++) this.ctrl[base + 4 + j] = args[j];
      Atomics.store(this.ctrl, base, job);
      Atomics.notify(this.ctrl, base);
      started |= 1 << w;
    }
    k.matmulRows(a, b, c, 0, Math.min(M, chunk), N, K, sai, sak, ldb, ldc, acc);
    for (let w = 0; w < this.workers.length; w++) {
      if (!(started & (1 << w))) continue;
      const done = w * SLOT_INTS + 1;
      for (;;) {
        const seen = Atomics.load(this.ctrl, done);
        if (seen === job) break;
        Atomics.wait(this.ctrl, done, seen, 1000);
      }
    }
  }

  async dispose(): Promise<void> {
    for (let w = 0; w < this.workers.length; w++) {
      const base = w * SLOT_INTS;
      Atomics.store(this.ctrl, base + 2, 1);
      Atomics.add(this.ctrl, base, 1);
      Atomics.notify(this.ctrl, base);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
