// Worker thread for src/models/linalg-pool.ts. The kernels live in linalg.ts, so this bootstrap
// registers the TypeScript loader (as bin/tastemaker.mjs does) and then serves block jobs on the shared
// matrix: each message names one phase; the reply says it is done.
import { URL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const k = await import(new URL('./linalg.ts', import.meta.url).href);
const { counters } = workerData;
let a = null;
let diag = null;
let n = 0;

parentPort.on('message', (msg) => {
  try {
    if (msg.type === 'bind') {
      a = new Float64Array(msg.a);
      diag = new Float64Array(msg.diag);
      n = msg.n;
    } else if (msg.type === 'cholRows') {
      k.choleskyPanelRows(a, n, msg.i0, msg.r0, msg.r1);
    } else if (msg.type === 'inv' || msg.type === 'gram') {
      const slot = msg.type === 'inv' ? 0 : 1;
      for (;;) {
        const b = Atomics.add(counters, slot, 1) * k.ROW_BLOCK;
        if (b >= n) break;
        if (slot === 0) k.invertLowerIntoUpperBlock(a, n, diag, b);
        else k.upperGramIntoLowerBlock(a, n, b);
      }
    }
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.stack ? e.stack : e) });
  }
});
parentPort.postMessage({ ok: true, ready: true });
