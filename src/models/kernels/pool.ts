/**
 * Worker threads that share the kernel memory and take a slice of a kernel call: rows of a matmul or of
 * the softmax loss, or a range of sequences of attention. Synchronisation is a per-worker control block
 * in a SharedArrayBuffer (Atomics.wait/notify), not postMessage: a kernel call inside a training step
 * takes milliseconds, so the hand-off must cost microseconds. The calling thread blocks (Atomics.wait is
 * allowed on Node's main thread) after computing its own slice.
 */
import { Worker } from 'node:worker_threads';
import type { KernelExports } from './wasm.js';

/** Kernel exports a worker may run. */
export const POOL_OPS = ['matmulRows', 'softmaxXent', 'attentionFwd', 'attentionBwd'] as const;
export type PoolOp = (typeof POOL_OPS)[number];
const SLOT_INTS = 16;
const SLOT_ARGS = 24;

export class KernelPool {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private jobs = 0;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, size: number) {
    const ctrlBuffer = new SharedArrayBuffer(size * SLOT_INTS * 4);
    const argBuffer = new SharedArrayBuffer(size * SLOT_ARGS * 8);
    this.ctrl = new Int32Array(ctrlBuffer);
    this.args = new Float64Array(argBuffer);
    for (let slot = 0; slot < size; slot++) {
      const w = new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: { module, memory, ctrlBuffer, argBuffer, slot, ops: [...POOL_OPS], slotInts: SLOT_INTS, slotArgs: SLOT_ARGS },
        execArgv: [],
      });
      w.unref();
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs op once per argument list: parts[0] on this thread, parts[1..] on workers (at most size + 1
   * parts). Returns each part's numeric result.
   */
  run(k: KernelExports, op: PoolOp, parts: number[][]): number[] {
    if (parts.length > this.workers.length + 1) throw new RangeError(`${parts.length} parts for ${this.workers.length + 1} threads`);
    const opIx = POOL_OPS.indexOf(op);
    this.jobs = (this.jobs + 1) | 0;
    const job = this.jobs;
    for (let p = 1; p < parts.length; p++) {
      const w = p - 1;
      const a = parts[p];
      if (a.length > SLOT_ARGS - 1) throw new RangeError(`too many arguments for ${op}`);
      const base = w * SLOT_INTS;
      this.ctrl[base + 3] = opIx;
      this.ctrl[base + 4] = a.length;
      for (let j = 0; j < a.length; j++) this.args[w * SLOT_ARGS + 1 + j] = a[j];
      Atomics.store(this.ctrl, base, job);
      Atomics.notify(this.ctrl, base);
    }
    const results = new Array<number>(parts.length).fill(0);
    const fn = k[op] as (...a: number[]) => number | void;
    results[0] = (parts.length > 0 ? fn(...parts[0]) : 0) ?? 0;
    for (let p = 1; p < parts.length; p++) {
      const w = p - 1;
      const done = w * SLOT_INTS + 1;
      for (;;) {
        const seen = Atomics.load(this.ctrl, done);
        if (seen === job) break;
        Atomics.wait(this.ctrl, done, seen, 1000);
      }
      results[p] = this.args[w * SLOT_ARGS];
    }
    return results;
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
