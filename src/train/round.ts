/**
 * One training round: every selected job, one after the other (one CPU-heavy fit at a time), inside one
 * wall-clock budget. Job k gets `remaining × share_k / Σ shares of the jobs not yet run`, so time a job
 * leaves unused (early stopping, a small model) passes on to the next, as in the blend model. Light jobs
 * later in the round (blend, ranker: `reserveMinutes`) hold back only min(their share, their reserve)
 * while a fit runs, and the fits split the rest by their shares — so the minutes a light job would not
 * use go to the fits before it instead of idling at the end (ML-1M, 30 minutes: SASRec 17.4 → 21 min). A job that
 * fails is reported and the round goes on: one broken model must not keep the others stale. Each job
 * registers and activates its own version as soon as it finishes, so serving picks the first model up
 * while the next one trains.
 */
import { ValidationError } from '../core/errors.js';
import type { EventWeights } from '../core/events.js';
import type { EngineConfigInput } from '../engine/index.js';
import type { FitProgress } from '../models/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import { loadTrainingData, type TrainingData } from './data.js';
import { trainJobs, type JobSummary, type TrainJob } from './jobs.js';

/** Least budget a job is given even when the round is nearly out of time (a fit needs one epoch). */
const MIN_JOB_MINUTES = 0.05;

export interface RoundOptions {
  /** Job names to run, in order (default: every job). */
  models?: readonly string[];
  maxMinutes: number;
  /** Relative budget share per job (1 when absent). */
  shares?: Readonly<Record<string, number>>;
  seed: number;
  eventWeights: EventWeights;
  engineConfig?: EngineConfigInput;
  /** Per-model hyper-parameter overrides. */
  params?: Readonly<Record<string, Record<string, unknown>>>;
  threads?: number;
  /** Called when a job starts, with its budget and whether it may warm-start. */
  onJobStart?: (model: string, maxMinutes: number) => void;
  onJobEnd?: (result: JobResult) => void;
  onProgress?: (model: string, p: FitProgress) => void;
  /** Progress lines of jobs that report in words. */
  log?: (m: string) => void;
  /** Clock for the budget (tests); Date.now by default. */
  nowMs?: () => number;
}

export interface JobResult {
  model: string;
  outcome: 'activated' | 'kept' | 'failed';
  seconds: number;
  version?: string;
  'valid.NDCG@10'?: number;
  warmStart?: 'warm' | 'cold';
  reason?: string;
  summary?: JobSummary;
}

export interface RoundResult {
  startedAt: number;
  endedAt: number;
  /** ok: every job registered a version; partial: some failed; failed: all failed. */
  outcome: 'ok' | 'partial' | 'failed';
  jobs: JobResult[];
}

/** The jobs a round runs, checked against the job table (a typo in config fails here, by name). */
export function selectJobs(models?: readonly string[]): TrainJob[] {
  const all = trainJobs();
  if (!models) return all;
  return models.map((name, i) => {
    const job = all.find((j) => j.name === name);
    if (!job) throw new ValidationError(`unknown model ${name} in trainer.models`, [{ path: `trainer.models.${i}`, message: `one of ${all.map((j) => j.name).join(', ')}` }]);
    return job;
  });
}

/**
 * The budget of todo[0] when remainingMs are left for the jobs in todo: its share of the remainder, where
 * a fit (no reserveMinutes) shares only what the light jobs after it do not reserve.
 */
export function jobBudgetMs(todo: readonly Pick<TrainJob, 'name' | 'reserveMinutes'>[], remainingMs: number, shares?: Readonly<Record<string, number>>): number {
  const share = (name: string): number => shares?.[name] ?? 1;
  const rest = todo.reduce((a, j) => a + share(j.name), 0);
  const [job, ...later] = todo;
  const byShare = (remainingMs * share(job.name)) / rest;
  if (job.reserveMinutes !== undefined) return byShare;
  let reserved = 0;
  let heavy = share(job.name);
  for (const j of later) {
    if (j.reserveMinutes === undefined) heavy += share(j.name);
    else reserved += Math.min(j.reserveMinutes * 60_000, (remainingMs * share(j.name)) / rest);
  }
  return ((remainingMs - reserved) * share(job.name)) / heavy;
}

export async function runRound(store: Store, registry: ModelRegistry, opts: RoundOptions): Promise<RoundResult> {
  const now = opts.nowMs ?? Date.now;
  const jobs = selectJobs(opts.models);
  const startedAt = now();
  const budgetMs = opts.maxMinutes * 60_000;
  let data: Promise<TrainingData> | undefined;
  const results: JobResult[] = [];
  for (let k = 0; k < jobs.length; k++) {
    const job = jobs[k];
    const remainingMs = budgetMs - (now() - startedAt);
    const maxMinutes = Math.max(MIN_JOB_MINUTES, jobBudgetMs(jobs.slice(k), remainingMs, opts.shares) / 60_000);
    opts.onJobStart?.(job.name, maxMinutes);
    const t0 = now();
    let result: JobResult;
    try {
      const summary = await job.run({
        store, registry, maxMinutes, seed: opts.seed, eventWeights: opts.eventWeights, engineConfig: opts.engineConfig ?? {},
        params: opts.params?.[job.name], threads: opts.threads,
        data: () => (data ??= loadTrainingData(store, opts.eventWeights)),
        onProgress: opts.onProgress ? (p) => opts.onProgress?.(job.name, p) : undefined,
        log: opts.log,
      });
      result = {
        model: job.name, outcome: summary.activated ? 'activated' : 'kept', seconds: (now() - t0) / 1000, version: summary.version,
        'valid.NDCG@10': summary['valid.NDCG@10'], ...(summary.warmStart ? { warmStart: summary.warmStart } : {}),
        ...(summary.reason ? { reason: summary.reason } : {}), summary,
      };
    } catch (e) {
      result = { model: job.name, outcome: 'failed', seconds: (now() - t0) / 1000, reason: e instanceof Error ? e.message : String(e) };
    }
    results.push(result);
    opts.onJobEnd?.(result);
  }
  const failed = results.filter((r) => r.outcome === 'failed').length;
  return { startedAt, endedAt: now(), outcome: failed === 0 ? 'ok' : failed === results.length ? 'failed' : 'partial', jobs: results };
}
