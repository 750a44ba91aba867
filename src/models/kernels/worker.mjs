/* global WebAssembly */
// Matmul worker thread for src/models/kernels/pool.ts. Plain JS (no TypeScript loader needed in the
// worker): it instantiates the kernel module on the shared memory and, each time its job counter in the
// control block moves, runs matmulRows on the row range it was given, then bumps its done counter.
import { workerData } from 'node:worker_threads';

const { module, memory, ctrlBuffer, slot } = workerData;
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort: () => { throw new Error('wasm kernel abort in worker'); }, seed: () => 0 },
});
const k = instance.exports;
const SLOT_INTS = 32;
const ctrl = new Int32Array(ctrlBuffer, slot * SLOT_INTS * 4, SLOT_INTS);
// ctrl[0]: job counter (main increments), ctrl[1]: done counter (worker sets), ctrl[2]: stop flag,
// ctrl[4..15]: matmulRows arguments.
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  if (Atomics.load(ctrl, 2) === 1) break;
  seen = Atomics.load(ctrl, 0);
  k.matmulRows(ctrl[4], ctrl[5], ctrl[6], ctrl[7], ctrl[8], ctrl[9], ctrl[10], ctrl[11], ctrl[12], ctrl[13], ctrl[14], ctrl[15]);
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
