// Worker thread for src/search/search-worker.ts: registers the TypeScript loader (as tower-worker.mjs
// does), then hands the port and job to search-worker-host.ts, which builds the search index and keeps
// answering on the port. A failed build is reported as a `failed` message.
import { URL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
try {
  const { runSearchWorker } = await import(new URL('./search-worker-host.ts', import.meta.url).href);
  await runSearchWorker(parentPort, workerData);
} catch (e) {
  parentPort.postMessage({ kind: 'failed', error: e instanceof Error ? e.message : String(e) });
  parentPort.close();
}
