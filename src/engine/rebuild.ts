/**
 * Replaying events into online state, and rebuilding that state from the store while serving.
 *
 * `applyEvents` is the one replay step: live traffic, warm-up and rebuilds all go through it, so the three
 * cannot diverge. It clamps an event time to `maxTimeMs` (now + the accepted clock skew): an old log may
 * hold events dated far ahead (before ingest checked the window), and one such event would outweigh every
 * other in the forward-decayed counters and stay there across restarts. Clamped, it counts as "now".
 *
 * `OnlineRebuilder` corrects the online state after events leave the store (admin deletions, a deleted
 * user): subtracting them exactly is not possible for co-occurrence (a removed event changes which pairs
 * its session window formed), so the rebuilder replays the whole remaining log into fresh histories,
 * counters and co-occurrences — sharing the live catalog and id maps, so every dense index and every
 * model's index table stays valid — and swaps them in synchronously. Requests are served meanwhile from
 * the old state (the replay yields to the event loop between batches). Events applied live during the
 * replay are recorded and applied to the new state too when the scan did not reach them; events the scan
 * did reach but whose live notification comes after the swap are skipped by seq. A request while a
 * rebuild runs queues exactly one more (the running scan may have read rows deleted meanwhile), which
 * every later request shares.
 */
import type { CooccurrenceIndex } from '../candidates/index.js';
import type { Event } from '../core/schemas.js';
import type { OnlineFeatures } from '../features/index.js';
import type { Store } from '../store/types.js';

/** Events per replay step of a rebuild: small, so a request waits at most one step (≈ 10–30 ms). */
const REBUILD_BATCH = 1_000;

export interface OnlineState {
  features: OnlineFeatures;
  cooc: CooccurrenceIndex;
}

export interface ReplayOptions {
  /** Scratch for the session window: [cooc window]. */
  window: Int32Array;
  /** Co-occurrence pairs only within this time window. */
  windowMs: number;
  /** Event times above this are clamped to it (ms). */
  maxTimeMs: number;
  /** Events with a seq at or below this are already in the state and are skipped. */
  skipThroughSeq: number;
}

/** Applies events (in order) to the state: co-occurrence with the session window, then history and counters. */
export function applyEvents(state: OnlineState, events: readonly Event[], o: ReplayOptions): void {
  const f = state.features;
  for (const e of events) {
    const seq = (e as { seq?: number }).seq;
    if (seq !== undefined && seq <= o.skipThroughSeq) continue;
    const r = f.resolve(e);
    if (r.tMs > o.maxTimeMs) r.tMs = o.maxTimeMs;
    if (r.weight > 0) {
      // Pair with the session's earlier items before this event joins the history.
      const k = f.histories.sessionWindow(r.userIx, r.itemIx, r.sessionKey, r.tMs, o.windowMs, o.window);
      if (k >= 0) state.cooc.observe(r.itemIx, o.window, k);
    }
    f.apply(r);
  }
}

/** What a rebuild did. */
export interface RebuildReport {
  /** Events replayed from the store (plus live ones that arrived during the replay). */
  events: number;
  /** Highest seq the replay read. */
  lastSeq: number;
  ms: number;
}

/** What the rebuilder needs from the engine. */
export interface RebuildTarget extends OnlineState {
  readonly store: Store;
  /** A fresh, empty state over the engine's catalog and id maps. */
  emptyState(): OnlineState;
  /** Replay options at this moment (clamp bound from the clock). */
  replayOptions(skipThroughSeq: number): ReplayOptions;
  readonly warmBatchSize: number;
}

export class OnlineRebuilder {
  /** Events applied live while a replay runs; undefined when none runs. */
  private pending: Event[] | undefined;
  private running: Promise<RebuildReport> | undefined;
  private queued: Promise<RebuildReport> | undefined;
  /** Events at or below this seq are in the state (set by a swap); later notifications of them are skipped. */
  skipThroughSeq = 0;
  rebuilds = 0;

  constructor(private readonly target: RebuildTarget) {}

  /** Called with every batch the engine applies live. */
  observe(events: readonly Event[]): void {
    if (this.pending) for (const e of events) this.pending.push(e);
  }

  /** Rebuilds the online state from the store; resolves once a replay that started after this call swapped in. */
  rebuild(): Promise<RebuildReport> {
    if (!this.running) return this.start();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<RebuildReport> {
    const p = this.run().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }

  private async run(): Promise<RebuildReport> {
    const t0 = performance.now();
    const target = this.target;
    const state = target.emptyState();
    this.pending = [];
    let events = 0;
    let lastSeq = 0;
    try {
      for await (const batch of target.store.scanEvents({ batchSize: Math.min(target.warmBatchSize, REBUILD_BATCH) })) {
        applyEvents(state, batch, target.replayOptions(0));
        events += batch.length;
        lastSeq = batch[batch.length - 1].seq;
        // Let requests in between batches (a synchronous store would otherwise hold the loop to the end).
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // Live events the scan did not reach (their rows were committed after it passed).
      const late = this.pending.filter((e) => {
        const seq = (e as { seq?: number }).seq;
        return seq === undefined || seq > lastSeq;
      });
      applyEvents(state, late, target.replayOptions(0));
      events += late.length;
    } finally {
      this.pending = undefined;
    }
    target.features.adopt(state.features);
    target.cooc.adopt(state.cooc);
    this.skipThroughSeq = Math.max(this.skipThroughSeq, lastSeq);
    this.rebuilds++;
    return { events, lastSeq, ms: performance.now() - t0 };
  }
}
