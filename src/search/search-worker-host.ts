/**
 * Worker side of search-worker.ts: builds the SearchIndex from a read-only connection to the SQLite
 * store (buildSearchIndexFromStore, the same build as in process, so the same results for the same
 * data), then owns it and answers the main thread. Writes that arrive during the build are queued and
 * replayed on the built index before it is announced (upsert and remove are idempotent; a row the scan
 * already saw is simply re-indexed), so an item ingested while building is never lost. The lazy upkeep
 * of the first queries (dictionary sort, autocomplete merge) is done before `ready`; the ANN graph is
 * built after it, a chunk per event-loop turn, so queries keep being answered (semantic ones by exact
 * scan until the graph is complete, then `ann` is posted). Content neighbours answer empty meanwhile
 * (the `busy` flag): an exact scan of a large catalog is too slow for a recommendation's time budget.
 */
import type { MessagePort } from 'node:worker_threads';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { buildSearchIndexFromStore } from './from-store.js';
import type { SearchIndex } from './search-index.js';
import { CTL, SearchJobSchema, toWireError, type FromWorker, type SearchWorkerInfo, type ToWorker } from './search-worker.js';

type Write = Extract<ToWorker, { kind: 'upsert' | 'remove' | 'events' }>;

function rowsOf(w: Write): number {
  return w.kind === 'upsert' ? w.items.length : w.kind === 'remove' ? w.ids.length : w.events.length;
}

export async function runSearchWorker(port: MessagePort, data: unknown): Promise<void> {
  const r = SearchJobSchema.safeParse(data);
  if (!r.success) throw new ValidationError('invalid search worker job', issuesFromSchema(r.error.issues, 'job'));
  const job = r.data;
  const ctl = new Int32Array(job.control);
  const replyBytes = new Uint8Array(job.reply);
  const encoder = new TextEncoder();
  const send = (m: FromWorker): void => port.postMessage(m);

  /** The index, once built and announced (writes before that are queued). */
  const live: { index?: SearchIndex } = {};
  let pending: Write[] = [];
  let pendingRows = 0;
  let dropped = 0;
  let writeErrors = 0;

  /** The step-wise ANN build: one chunk per event-loop turn, content channel busy until done. */
  const ann = { running: false, builds: 0, allowed: job.annOnReady };
  const buildAnn = (ix: SearchIndex): void => {
    if (ann.running || !ix.annPending) return;
    ann.allowed = true;
    ann.running = true;
    Atomics.store(ctl, CTL.busy, 1);
    const t0 = performance.now();
    const step = (): void => {
      let done = true;
      try {
        done = ix.buildAnnStep(job.annChunk, job.annThreads);
      } catch {
        // A failed native insert leaves semantic retrieval on the exact scan; not retried.
        ann.allowed = false;
      }
      if (!done) {
        setImmediate(step);
        return;
      }
      ann.running = false;
      refreshBusy(ix);
      if (ann.builds++ === 0) send({ kind: 'ann', seconds: (performance.now() - t0) / 1000, size: ix.size });
    };
    setImmediate(step);
  };

  /** Steps a tower swap started by beginEncoderSwap to its end, then replies and rebuilds the graph. */
  const swapEncoder = (ix: SearchIndex, id: number): void => {
    const step = (): void => {
      let done: boolean;
      try {
        done = ix.swapEncoderStep(job.swapChunk);
      } catch (e) {
        send({ kind: 'reply', id, ok: false, error: toWireError(e) });
        return;
      }
      if (!done) {
        setImmediate(step);
        return;
      }
      refreshBusy(ix);
      buildAnn(ix);
      send({ kind: 'reply', id, ok: true, value: info(ix) });
    };
    setImmediate(step);
  };

  const info = (ix: SearchIndex): SearchWorkerInfo => ({ size: ix.size, towerVersion: ix.towerVersion, dims: ix.dims, writeErrors });

  const applyWrite = (ix: SearchIndex, w: Write): void => {
    try {
      if (w.kind === 'upsert') ix.upsert(w.items);
      else if (w.kind === 'remove') ix.remove(w.ids);
      else ix.onEvents(w.events);
    } catch {
      writeErrors++;
    }
  };

  /** The answer to a neighbours request, written into shared memory; halved until it fits. */
  const answerNeighbours = (ix: SearchIndex, m: Extract<ToWorker, { kind: 'neighbours' }>): void => {
    let ids: string[] = [];
    let scores: number[] = [];
    try {
      ({ itemIds: ids, scores } = ix.contentNeighbours(m.seedIds, m.n));
    } catch {
      // A bad request gets an empty answer: the main thread must never wait on a missing one.
    }
    let written = 0;
    for (let k = ids.length; ; k = k >> 1) {
      const json = JSON.stringify([ids.slice(0, k), scores.slice(0, k)]);
      const res = encoder.encodeInto(json, replyBytes);
      written = res.written;
      if (res.read === json.length || k === 0) break;
    }
    Atomics.store(ctl, CTL.length, written);
    Atomics.store(ctl, CTL.replied, m.seq);
    Atomics.notify(ctl, CTL.replied);
  };

  /**
   * The content channel stands aside while the graph is wanted but missing (being built, or deferred
   * until a tower swap): an exact scan of a large catalog takes tens of milliseconds.
   */
  const refreshBusy = (ix: SearchIndex): void => {
    // A catalog that grew past the ANN threshold gets its graph the same way.
    if (ann.allowed && !ann.running && ix.annPending) buildAnn(ix);
    Atomics.store(ctl, CTL.busy, ann.running || ix.annPending ? 1 : 0);
  };

  const handle = (ix: SearchIndex, m: ToWorker): void => {
    switch (m.kind) {
      case 'upsert':
      case 'remove':
      case 'events':
        applyWrite(ix, m);
        refreshBusy(ix);
        return;
      case 'neighbours':
        answerNeighbours(ix, m);
        return;
      case 'build-ann':
        buildAnn(ix);
        return;
    }
    let value: unknown;
    try {
      if (m.kind === 'search') value = ix.search(m.query);
      else if (m.kind === 'suggest') value = ix.suggest(m.q, m.n);
      else if (m.kind === 'encoder') {
        // Re-embedding a million items takes tens of seconds: done a chunk per turn (the current tower
        // answers meanwhile), then the graph is rebuilt the same way; the reply comes at the swap.
        ix.beginEncoderSwap(m.state);
        swapEncoder(ix, m.id);
        return;
      } else value = info(ix);
    } catch (e) {
      send({ kind: 'reply', id: m.id, ok: false, error: toWireError(e) });
      return;
    }
    send({ kind: 'reply', id: m.id, ok: true, value });
  };

  port.on('message', (m: ToWorker) => {
    if (live.index) return handle(live.index, m);
    if (m.kind === 'build-ann') {
      ann.allowed = true;
    } else if (m.kind === 'upsert' || m.kind === 'remove' || m.kind === 'events') {
      pending.push(m);
      pendingRows += rowsOf(m);
      while (pendingRows > job.maxPending && pending.length > 1) {
        const old = pending.shift()!;
        pendingRows -= rowsOf(old);
        dropped += rowsOf(old);
      }
    } else if (m.kind === 'neighbours') {
      // Not ready: answer empty so the main thread's channel stays usable.
      Atomics.store(ctl, CTL.length, encoder.encodeInto('[[],[]]', replyBytes).written);
      Atomics.store(ctl, CTL.replied, m.seq);
      Atomics.notify(ctl, CTL.replied);
    } else {
      send({ kind: 'reply', id: m.id, ok: false, error: { status: 503, message: 'search index is building, retry shortly', issues: [] } });
    }
  });

  Atomics.store(ctl, CTL.busy, 1);
  const store = new SqliteStore(job.storePath, { readonly: true });
  let built: Awaited<ReturnType<typeof buildSearchIndexFromStore>>;
  try {
    built = await buildSearchIndexFromStore(store, { config: job.config, train: job.train });
  } finally {
    await store.close();
  }
  const { index: ix, report } = built;
  const replayed = pendingRows;
  for (const w of pending) applyWrite(ix, w);
  pending = [];
  pendingRows = 0;
  ix.prepare();
  // The graph is built in steps here (buildAnn), never all at once by a query.
  ix.lazyAnn = false;
  live.index = ix;
  refreshBusy(ix);
  send({ kind: 'ready', report, dropped, replayed });
  if (!ix.annPending) send({ kind: 'ann', seconds: 0, size: ix.size });
  else if (ann.allowed) buildAnn(ix);
}
