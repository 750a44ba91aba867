/**
 * The search index of a running server. Building it (scan the store, train the content tower) takes
 * seconds to minutes, so `serve` and `demo` listen first and build it in the background: until it is
 * ready /v1/search and /v1/suggest answer 503 (src/serve/app.ts). Writes that arrive while the build
 * runs are queued and replayed on the built index (upsert and remove are idempotent), later ones are
 * applied at once. Once ready, the index's content tower also becomes the engine's content candidate
 * source, so an item ingested a second ago can already appear in similar and home.
 *
 * Two homes for the index, chosen by catalog size:
 * - in process (small catalogs, or stores without a file): built on the event loop in pages that yield;
 *   below WORKER_MIN_ITEMS that costs well under a second in total.
 * - in a worker thread (src/search/search-worker.ts) when the store is a SQLite file with at least
 *   WORKER_MIN_ITEMS items: at a million items the in-process build starved recommendations (p99 848 ms
 *   at 245 req/s, docs/benchmarks.md), so the worker builds the index from a read-only connection and
 *   keeps it; searches, suggestions, writes and content neighbours cross by message, and the main thread
 *   does O(batch) work per write.
 * Either way the index is first built with the untrained tower (training on the event loop would stall
 * every request); then, when the store is a SQLite file, a worker thread trains the tower on a
 * read-only connection and the trained weights are swapped in (every item re-embedded, new ones included).
 */
import type { Event, Item } from '../core/schemas.js';
import type { OnlineEngine } from '../engine/online.js';
import type { Engine } from '../engine/types.js';
import type { IngestListeners } from '../ingest/ingestor.js';
import { ContentCandidateSource, type ContentNeighbours } from '../search/content-source.js';
import { buildSearchIndexFromStore, searchItemOf, type BuildReport } from '../search/from-store.js';
import type { TrainConfigInput, TrainReport, EncoderState } from '../search/encoder.js';
import type { SearchService } from '../search/routes.js';
import { SearchWorkerClient } from '../search/search-worker.js';
import { storeFilePath, trainTowerOffThread, type TowerTraining } from '../search/tower-worker.js';
import type { SearchIndex } from '../search/search-index.js';
import type { Store } from '../store/types.js';

/**
 * Content-tower training steps of the start-up build. Training is synchronous and runs on the event
 * loop: the search stage's default 1500 steps stalled every request for 40–110 s on the 2-core dev box,
 * so serving builds with the untrained tower (hashed word/trigram features through a random
 * projection: still a content similarity, and what cold-start neighbours need) and trains it in a
 * worker thread afterwards (`tower` option of build).
 */
export const SERVE_TRAIN_STEPS = 0;

/**
 * From this many items (and a store file a worker can open) the index is built and kept in a worker
 * thread. The ANN threshold of SearchIndex: below it the in-process build is a fraction of a second.
 */
export const WORKER_MIN_ITEMS = 20_000;

/**
 * TASTEMAKER_SEARCH_WORKER=on|off overrides the size rule (the serve benchmark compares both homes at
 * the same catalog size); unset or anything else = by size.
 */
function workerFromEnv(env: NodeJS.ProcessEnv = process.env): boolean | undefined {
  const v = env.TASTEMAKER_SEARCH_WORKER;
  return v === 'on' ? true : v === 'off' ? false : undefined;
}

/** Writes queued while the index builds; past this the oldest are dropped (and a restart rebuilds). */
const MAX_PENDING = 100_000;

type Pending = { kind: 'items'; items: Item[] } | { kind: 'delete'; itemId: string } | { kind: 'events'; events: Event[] };

/** What buildApp needs: the index once ready (in process or behind a worker), and deletes (which bypass the ingestor). */
export interface SearchHolder {
  service(): SearchService | undefined;
  onItemDeleted?(itemId: string): void;
}

export interface LiveBuildOptions {
  train?: TrainConfigInput;
  tower?: TrainConfigInput | false;
  /** Where the index lives: true = worker thread (needs a store file), false = in process; default by size. */
  worker?: boolean;
  /** Milliseconds a recommendation waits for the worker's content neighbours (worker mode). */
  contentTimeoutMs?: number;
}

export class LiveSearch implements SearchHolder {
  private index: SearchIndex | undefined;
  /** The worker holding the index (worker mode), from the start of the build. */
  private remote: SearchWorkerClient | undefined;
  private remoteReady = false;
  private pending: Pending[] = [];
  private pendingRows = 0;
  private dropped = 0;
  private closed = false;
  private training: TowerTraining | undefined;
  /**
   * Set by build once the index is ready: resolves with the worker's training report once the trained
   * tower is in use, or undefined when it was not trained off-thread (no store file, disabled, failed,
   * closed). Never rejects.
   */
  towerReady: Promise<TrainReport | undefined> | undefined;

  constructor(private readonly engine: Engine) {}

  /** The in-process index once ready (undefined in worker mode: see service()). */
  get(): SearchIndex | undefined {
    return this.index;
  }

  /** What answers /v1/search and /v1/suggest: the in-process index, or the worker's client once built. */
  service(): SearchService | undefined {
    if (this.index) return this.index;
    return this.remote && this.remoteReady && this.remote.alive ? this.remote : undefined;
  }

  /** The worker client in worker mode (for stats and tests). */
  get worker(): SearchWorkerClient | undefined {
    return this.remote;
  }

  /** The ingestor's listeners: the engine first (so its id map knows new items), then the index. */
  listeners(): IngestListeners {
    return {
      onItems: (items) => {
        this.engine.onItems(items);
        this.onItems(items);
      },
      onUsers: (users) => this.engine.onUsers(users),
      onEvents: (events) => {
        this.engine.onEvents(events);
        this.onEvents(events);
      },
    };
  }

  onItems(items: Item[]): void {
    if (this.index) this.index.upsert(items.map((it) => searchItemOf(it)));
    else if (this.remote) this.remote.upsert(items.map((it) => searchItemOf(it)));
    else this.queue({ kind: 'items', items }, items.length);
  }

  onItemDeleted(itemId: string): void {
    if (this.index) this.index.remove([itemId]);
    else if (this.remote) this.remote.remove([itemId]);
    else this.queue({ kind: 'delete', itemId }, 1);
  }

  /** Only search-click events matter to the index (click memory); the rest are not queued. */
  onEvents(events: Event[]): void {
    const clicks = events.filter((e) => e.type === 'search-click');
    if (clicks.length === 0) return;
    if (this.index) this.index.onEvents(clicks);
    else if (this.remote) this.remote.onEvents(clicks);
    else this.queue({ kind: 'events', events: clicks }, clicks.length);
  }

  private queue(p: Pending, rows: number): void {
    this.pending.push(p);
    this.pendingRows += rows;
    while (this.pendingRows > MAX_PENDING && this.pending.length > 1) {
      const old = this.pending.shift()!;
      const n = old.kind === 'items' ? old.items.length : old.kind === 'events' ? old.events.length : 1;
      this.pendingRows -= n;
      this.dropped += n;
    }
  }

  /** Replays the queued writes onto an index (in process or the worker's), then forgets them. */
  private replay(target: { upsert(rows: ReturnType<typeof searchItemOf>[]): void; remove(ids: string[]): unknown; onEvents(events: Event[]): unknown }): void {
    for (const p of this.pending) {
      if (p.kind === 'items') target.upsert(p.items.map((it) => searchItemOf(it)));
      else if (p.kind === 'delete') target.remove([p.itemId]);
      else target.onEvents(p.events);
    }
    this.pending = [];
    this.pendingRows = 0;
  }

  /** Worker mode by default when the store has a file a worker can open and the catalog is large. */
  private useWorker(path: string | undefined, requested: boolean | undefined, log: (msg: string) => void): boolean {
    if (requested === false) return false;
    if (!path) {
      if (requested) log('search index: no store file a worker can open; building in process');
      return false;
    }
    if (requested) return true;
    // The engine's catalog size (in memory): no count query on the request thread.
    return this.engine.stats().items >= WORKER_MIN_ITEMS;
  }

  /**
   * Builds the index from the store, replays what arrived meanwhile, and publishes it. Resolves with
   * the build report, or undefined when the server closed first (a failure after close is expected:
   * the store is gone). Never rejects: a failed build is logged and search stays 503.
   */
  async build(store: Pick<Store, 'scanItems' | 'scanEvents'>, log: (msg: string) => void, opts: LiveBuildOptions = {}): Promise<BuildReport | undefined> {
    const path = storeFilePath(store);
    const train = opts.train ?? { steps: SERVE_TRAIN_STEPS };
    if (this.useWorker(path, opts.worker ?? workerFromEnv(), log)) return this.buildInWorker(path!, train, log, opts);
    let built: { index: SearchIndex; report: BuildReport };
    try {
      built = await buildSearchIndexFromStore(store, { train });
    } catch (e) {
      if (!this.closed) log(`search index build failed: ${e instanceof Error ? e.message : String(e)} (search answers 503)`);
      return undefined;
    }
    if (this.closed) return undefined;
    const { index, report } = built;
    this.replay(index);
    if (this.dropped > 0) log(`search index: ${this.dropped} writes during the build exceeded the queue and were dropped; restart to re-index`);
    this.index = index;
    this.attachContentSource(index);
    log(`search index ready in ${report.seconds.toFixed(1)} s: ${report.items} items, ${report.events} events`);
    this.towerReady =
      opts.tower === false || index.towerTrained || !path || index.size < 2
        ? Promise.resolve(undefined)
        : this.trainTower((state) => index.loadEncoderState(state), path, opts.tower ?? {}, log);
    return report;
  }

  private async buildInWorker(path: string, train: TrainConfigInput, log: (msg: string) => void, opts: LiveBuildOptions): Promise<BuildReport | undefined> {
    const t0 = performance.now();
    log('search index: building in a worker thread (read-only store connection)…');
    let client: SearchWorkerClient;
    try {
      // A tower trained off-thread after the build re-embeds every item, which would discard an ANN
      // graph built before it: the graph is then built once, after the swap.
      const towerComing = opts.tower !== false && !((train.steps ?? 0) > 0);
      client = new SearchWorkerClient({ storePath: path, train, annOnReady: !towerComing }, { contentTimeoutMs: opts.contentTimeoutMs });
    } catch (e) {
      log(`search index build failed: ${e instanceof Error ? e.message : String(e)} (search answers 503)`);
      return undefined;
    }
    // From now on writes go to the worker, which queues them until its index is built.
    this.remote = client;
    this.replay(client);
    let ready: Awaited<SearchWorkerClient['ready']>;
    try {
      ready = await client.ready;
    } catch (e) {
      if (!this.closed) log(`search index build failed: ${e instanceof Error ? e.message : String(e)} (search answers 503)`);
      return undefined;
    }
    if (this.closed) return undefined;
    this.remoteReady = true;
    client.onFailure = (e) => {
      if (!this.closed) log(`search worker stopped: ${e.message} (search answers 503 until a restart rebuilds the index)`);
    };
    const dropped = this.dropped + ready.dropped;
    if (dropped > 0) log(`search index: ${dropped} writes during the build exceeded the queue and were dropped; restart to re-index`);
    this.attachContentSource(client);
    const { report } = ready;
    log(
      `search index ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (worker thread; build ${report.seconds.toFixed(1)} s): ` +
        `${report.items} items, ${report.events} events, ${ready.replayed} writes replayed`,
    );
    void client.annReady.then((a) => {
      if (!this.closed && a.seconds > 0) log(`search ANN graph ready in ${a.seconds.toFixed(1)} s (${a.size} items; semantic search used an exact scan meanwhile)`);
    });
    const tower = opts.tower;
    if (tower === false || report.tower?.steps || report.items < 2) {
      client.buildAnn();
      this.towerReady = Promise.resolve(undefined);
    } else {
      // The worker builds the graph after the swap; without a trained tower it is told to build it now.
      this.towerReady = this.trainTower(async (state) => void (await client.loadEncoderState(state)), path, tower ?? {}, log).then((r) => {
        if (!r) client.buildAnn();
        return r;
      });
    }
    return report;
  }

  /** Trains the tower in a worker thread and swaps it in with `load`; on failure the untrained tower stays. */
  private async trainTower(load: (state: EncoderState) => unknown, path: string, train: TrainConfigInput, log: (msg: string) => void): Promise<TrainReport | undefined> {
    const t0 = performance.now();
    log('training the search content tower in a worker thread…');
    let training: TowerTraining;
    try {
      training = trainTowerOffThread(path, train);
    } catch (e) {
      log(`warning: search content tower training could not start: ${e instanceof Error ? e.message : String(e)} (keeping the untrained tower)`);
      return undefined;
    }
    this.training = training;
    try {
      const out = await training.done;
      if (this.closed || !out || !out.report.tower) return undefined;
      await load(out.state);
      if (this.closed) return undefined;
      log(`search content tower trained in ${((performance.now() - t0) / 1000).toFixed(1)} s (${out.report.tower.steps} steps on ${out.report.items} items; loss ${out.report.tower.lossStart.toFixed(3)} → ${out.report.tower.lossEnd.toFixed(3)})`);
      return out.report.tower;
    } catch (e) {
      if (!this.closed) log(`warning: search content tower training failed: ${e instanceof Error ? e.message : String(e)} (keeping the untrained tower)`);
      return undefined;
    } finally {
      this.training = undefined;
    }
  }

  /** The content tower as the engine's cold-start source (only the online engine exposes its id map). */
  private attachContentSource(index: ContentNeighbours): void {
    const online = this.engine as Partial<OnlineEngine>;
    if (typeof online.setContentSource !== 'function' || !online.features) return;
    const ids = online.features.catalog.ids;
    online.setContentSource(
      new ContentCandidateSource(
        index,
        (ix) => (ix >= 0 && ix < ids.size ? ids.id(ix) : undefined),
        (id) => {
          const ix = ids.get(id);
          return ix >= 0 ? ix : undefined;
        },
      ),
    );
  }

  /** Stops publishing: a build still running is discarded when it finishes; a search worker is stopped. */
  close(): void {
    this.closed = true;
    this.training?.terminate();
    this.training = undefined;
    this.remote?.terminate();
    (this.engine as Partial<OnlineEngine>).setContentSource?.(undefined);
  }
}
