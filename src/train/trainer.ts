/**
 * The trainer role: keeps every served model fresh. It wakes every `checkIntervalSeconds`, asks the
 * schedule whether a round is due (first start with models missing, enough new events, or the interval
 * passed with something new), and runs the round under the data dir's lock (lock.ts), one job at a time,
 * publishing its state for serving (state.ts). It runs as its own process (`tastemaker trainer`) or as a
 * child of `serve`/`demo` (child.ts), never on the serving event loop: a fit holds the CPU for minutes.
 *
 * Crash safety comes from the pieces: the registry writes versions atomically and activates by renaming
 * active.json, so a round killed at any point leaves the active versions serving; the next round finds
 * the lock's owner gone, removes the lock and the registry's abandoned temp dirs, and starts over.
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { TrainerConfig } from '../core/config.js';
import { isTastemakerError } from '../core/errors.js';
import type { EventWeights } from '../core/events.js';
import type { EngineConfigInput } from '../engine/index.js';
import { ModelRegistry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import { acquireLock } from './lock.js';
import { runRound, selectJobs, type JobResult, type RoundResult } from './round.js';
import { lockPath, readState, writeState, type TrainerState } from './state.js';

export interface ScheduleInput {
  nowMs: number;
  /** When this trainer started. */
  startedAt: number;
  /** Rounds this trainer has run. */
  rounds: number;
  /** End of the last round (this process or a previous one), if known. */
  lastRoundEndMs?: number;
  lastRoundSeq: number;
  currentSeq: number;
  /** Selected models with no active version. */
  missing: readonly string[];
}

export interface ScheduleDecision {
  due: boolean;
  trigger?: string;
  /** When the next round is due if nothing else happens (undefined: when new events arrive). */
  nextRunAt?: number;
  reason: string;
}

/**
 * When to train. Pure, so tests drive it with any clock: a first round soon after start when a model has
 * no active version (the demo's fresh start), a round as soon as `minNewEvents` arrived, and otherwise one
 * every `intervalMinutes` — but only when there is at least one new event to learn from.
 */
export function scheduleDecision(s: ScheduleInput, cfg: Pick<TrainerConfig, 'intervalMinutes' | 'minNewEvents' | 'firstRunDelaySeconds'>): ScheduleDecision {
  const newEvents = Math.max(0, s.currentSeq - s.lastRoundSeq);
  if (s.rounds === 0 && s.missing.length > 0) {
    const at = s.startedAt + cfg.firstRunDelaySeconds * 1000;
    const trigger = `first round: no active ${s.missing.join(', ')}`;
    return s.nowMs >= at ? { due: true, trigger, reason: trigger } : { due: false, nextRunAt: at, reason: trigger };
  }
  if (newEvents >= cfg.minNewEvents) return { due: true, trigger: `${newEvents} new events`, reason: `${newEvents} new events ≥ ${cfg.minNewEvents}` };
  if (newEvents === 0) return { due: false, reason: 'no new events since the last round' };
  const at = (s.lastRoundEndMs ?? s.startedAt) + cfg.intervalMinutes * 60_000;
  if (s.nowMs >= at) return { due: true, trigger: `interval (${newEvents} new events)`, reason: 'interval passed' };
  return { due: false, nextRunAt: at, reason: `${newEvents} new events; interval ends then, or at ${cfg.minNewEvents} new events` };
}

export interface TrainerOptions {
  store: Store;
  dataDir: string;
  config: TrainerConfig;
  eventWeights: EventWeights;
  engineConfig?: EngineConfigInput;
  clock?: Clock;
  log?: (m: string) => void;
  /** A lock whose owner sent no heartbeat for this long is stale even if its pid exists (pid reuse). */
  lockStaleMs?: number;
  /** Threads per fit (default: the models' own choice). */
  threads?: number;
}

/** Least time between two progress lines of one model in the log. */
const PROGRESS_LOG_MS = 10_000;

export class Trainer {
  private readonly registry: ModelRegistry;
  private readonly clock: Clock;
  private readonly log: (m: string) => void;
  private st: TrainerState;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private lastRoundEndMs: number | undefined;
  private lastRoundSeq: number | undefined;

  constructor(private readonly o: TrainerOptions) {
    this.registry = new ModelRegistry(o.dataDir);
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? (() => undefined);
    selectJobs(o.config.models); // unknown model names fail at start, by name
    const prev = readState(o.dataDir);
    this.lastRoundEndMs = prev?.lastRun?.endedAt;
    this.lastRoundSeq = prev?.lastRoundSeq;
    const now = this.clock.nowMs();
    this.st = { pid: process.pid, status: 'idle', rounds: 0, startedAt: now, updatedAt: now, ...(prev?.lastRun ? { lastRun: prev.lastRun } : {}), ...(prev?.lastRoundSeq !== undefined ? { lastRoundSeq: prev.lastRoundSeq } : {}) };
  }

  state(): TrainerState {
    return this.st;
  }

  private publish(patch: Partial<TrainerState>): void {
    this.st = { ...this.st, ...patch, updatedAt: this.clock.nowMs() };
    try {
      writeState(this.o.dataDir, this.st);
    } catch (e) {
      this.log(`trainer: cannot write its state file: ${(e as Error).message}`);
    }
  }

  private missing(): string[] {
    return selectJobs(this.o.config.models)
      .map((j) => j.name)
      .filter((n) => !this.registry.active(n));
  }

  /** Checks the schedule and runs a round when due; returns its result, or undefined when none ran. */
  async tick(): Promise<RoundResult | undefined> {
    if (this.running || this.stopped) return undefined;
    const currentSeq = await this.o.store.lastEventSeq();
    // Without a previous round on record, the models (if any) are taken as trained on what is stored now.
    this.lastRoundSeq ??= currentSeq;
    const d = scheduleDecision(
      { nowMs: this.clock.nowMs(), startedAt: this.st.startedAt, rounds: this.st.rounds, lastRoundEndMs: this.lastRoundEndMs, lastRoundSeq: this.lastRoundSeq, currentSeq, missing: this.missing() },
      this.o.config,
    );
    if (!d.due) {
      if (d.nextRunAt !== this.st.nextRunAt || d.reason !== this.st.nextRunReason) this.publish({ nextRunAt: d.nextRunAt, nextRunReason: d.reason });
      return undefined;
    }
    return this.runOnce(d.trigger ?? 'scheduled');
  }

  /**
   * One round now (the schedule's, or `train --all`'s). Throws ConflictError when another process holds
   * the round lock; a failed job does not throw (it is in the result).
   */
  async runOnce(trigger = 'manual'): Promise<RoundResult> {
    if (this.running) throw new Error('trainer: a round is already running in this process');
    const p = this.round(trigger);
    this.running = p;
    try {
      return await p;
    } finally {
      this.running = undefined;
    }
  }

  private async round(trigger: string): Promise<RoundResult> {
    const cfg = this.o.config;
    const lock = acquireLock(lockPath(this.o.dataDir), {
      staleMs: this.o.lockStaleMs,
      nowMs: () => this.clock.nowMs(),
      onStale: (why) => this.log(`trainer: removing a stale round lock (${why})`),
    });
    try {
      const abandoned = this.registry.removeAbandoned();
      if (abandoned > 0) this.log(`trainer: removed ${abandoned} half-written version(s) of a killed run`);
      const seq = await this.o.store.lastEventSeq();
      const startedAt = this.clock.nowMs();
      const names = selectJobs(cfg.models).map((j) => j.name);
      this.log(`trainer: round ${this.st.rounds + 1} starts (${trigger}): ${names.join(', ')} within ${cfg.maxMinutesPerRun} min`);
      this.publish({ status: 'running', rounds: this.st.rounds + 1, currentRun: { startedAt, trigger }, model: undefined, nextRunAt: undefined, nextRunReason: undefined });
      let lastProgress = 0;
      const result = await runRound(this.o.store, this.registry, {
        models: cfg.models, maxMinutes: cfg.maxMinutesPerRun, shares: cfg.shares, seed: cfg.seed, params: cfg.params,
        eventWeights: this.o.eventWeights, engineConfig: this.o.engineConfig, threads: this.o.threads, nowMs: () => this.clock.nowMs(),
        log: (m) => this.log(`trainer: ${m}`),
        onJobStart: (model, minutes) => {
          lock.beat();
          const active = this.registry.active(model)?.version;
          this.log(`trainer: ${model}: training (budget ${minutes.toFixed(1)} min${active ? `, active ${active}` : ', none active yet'})…`);
          this.publish({ model });
        },
        onProgress: (model, pr) => {
          const t = this.clock.nowMs();
          if (!pr.valid || t - lastProgress < PROGRESS_LOG_MS) return;
          lastProgress = t;
          lock.beat();
          this.log(`trainer: ${model}: epoch ${pr.epoch ?? '?'} valid NDCG@10 ${pr.valid['NDCG@10'].toFixed(4)} (${pr.elapsedSeconds.toFixed(0)} s)`);
        },
        onJobEnd: (r) => {
          lock.beat();
          this.log(`trainer: ${describe(r)}`);
        },
      });
      const endedAt = this.clock.nowMs();
      this.lastRoundEndMs = endedAt;
      // Events that arrived during the round are new for the next one.
      this.lastRoundSeq = seq;
      const jobs = result.jobs.map(({ summary: _s, ...j }) => j);
      this.publish({ status: 'idle', model: undefined, currentRun: undefined, lastRun: { startedAt, endedAt, trigger, outcome: result.outcome, jobs }, lastRoundSeq: seq });
      this.log(`trainer: round ${this.st.rounds} ${result.outcome} in ${((endedAt - startedAt) / 1000).toFixed(0)} s`);
      return result;
    } catch (e) {
      this.publish({ status: 'idle', model: undefined, currentRun: undefined });
      throw e;
    } finally {
      lock.release();
    }
  }

  /** Starts the schedule: a check now, then every checkIntervalSeconds, one at a time. */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        await this.tick();
      } catch (e) {
        // Another process holding the lock, or the store briefly unavailable: the next check retries.
        this.log(`trainer: ${isTastemakerError(e) ? e.message : `round failed: ${(e as Error).stack ?? String(e)}`}`);
      }
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.o.config.checkIntervalSeconds * 1000);
    };
    this.publish({ status: 'idle' });
    void loop();
  }

  /** Stops scheduling; waits for a running round to end (its fit cannot be interrupted mid-epoch). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.publish({ status: 'stopped', model: undefined, nextRunAt: undefined });
  }
}

function describe(r: JobResult): string {
  const ndcg = r['valid.NDCG@10'] !== undefined ? ` valid NDCG@10 ${r['valid.NDCG@10'].toFixed(4)}` : '';
  const warm = r.warmStart ? `, ${r.warmStart} start` : '';
  if (r.outcome === 'activated') return `${r.model} ${r.version} activated:${ndcg} in ${r.seconds.toFixed(0)} s${warm}`;
  if (r.outcome === 'kept') return `${r.model} ${r.version} registered, active version kept (${r.reason ?? 'not better'})${warm}`;
  return `${r.model} failed after ${r.seconds.toFixed(0)} s, active version kept: ${r.reason}`;
}
