/* global WebAssembly */
// Kernel worker thread for src/models/kernels/pool.ts. Plain JS (no TypeScript loader needed in the
// worker): it instantiates the kernel module on the shared memory and, each time its job counter in the
// control block moves, calls the named export with the arguments it was given, stores the result and
// bumps its done counter.
import { workerData } from 'node:worker_threads';

const { module, memory, ctrlBuffer, argBuffer, slot, ops, slotInts, slotArgs } = workerData;
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort: () => { throw new Error('wasm kernel abort in worker'); }, seed: () => 0 },
});
const fns = ops.map((name) => instance.exports[name]);
const ctrl = new Int32Array(ctrlBuffer, slot * slotInts * 4, slotInts);
const args = new Float64Array(argBuffer, slot * slotArgs * 8, slotArgs);
// ctrl[0]: job counter (main increments), ctrl[1]: done counter, ctrl[2]: stop flag, ctrl[3]: op index,
// ctrl[4]: argument count; args[0]: result, args[1..]: arguments.
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  if (Atomics.load(ctrl, 2) === 1) break;
  seen = Atomics.load(ctrl, 0);
  const n = ctrl[4];
  const a = new Array(n);
  for (let i = 0; i < n; i++) a[i] = args[1 + i];
  const r = fns[ctrl[3]](...a);
  args[0] = typeof r === 'number' ? r : 0;
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
