// Worker thread for src/search/tower-worker.ts: registers the TypeScript loader (as bin/tastemaker.mjs
// and src/models/linalg-worker.mjs do), runs one content-tower training job on the store named in
// workerData and posts the trained weights back, transferring their buffers (no copy).
import { URL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
try {
  const { runTowerJob } = await import(new URL('./tower-worker.ts', import.meta.url).href);
  const out = await runTowerJob(workerData);
  if (!out) parentPort.postMessage({ ok: true, state: undefined });
  else parentPort.postMessage({ ok: true, state: out.state, report: out.report }, [out.state.weights.buffer, out.state.idf.buffer]);
} catch (e) {
  parentPort.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
}
