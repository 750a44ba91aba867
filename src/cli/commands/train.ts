/**
 * `tastemaker train --db <path> [--model m | --all] [--max-minutes M] [--seed S] [--params JSON]
 * [--no-warm-start] [--data-dir D] [--config F] [--json]`: argument parsing over src/train. `--model`
 * runs one job (any model of the model table, or `ranker`); `--all` runs one trainer round by hand —
 * every job of `trainer.models`, one after the other, the budget split by `trainer.shares` — under the
 * same lock as the scheduled trainer. Each job registers a version and activates it only when its
 * validation NDCG@10 is at least the active one's; a failed job registers nothing. The last stdout line is
 * a JSON summary.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig, type Config } from '../../core/config.js';
import { ValidationError, isTastemakerError, issuesFromSchema } from '../../core/errors.js';
import type { FitProgress } from '../../models/index.js';
import { ModelRegistry } from '../../registry/index.js';
import { openStore } from '../../store/index.js';
import { Trainer, acquireLock, jobFor, loadTrainingData, lockPath, trainableNames, type JobSummary, type RoundResult, type TrainingData } from '../../train/index.js';

const TrainCliOptions = z.strictObject({
  db: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  model: z.string().refine((m) => trainableNames().includes(m), { message: `must be one of ${trainableNames().join(', ')}` }).optional(),
  all: z.boolean().optional(),
  maxMinutes: z.coerce.number().gt(0).max(10_000).optional(),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(42),
  params: z.string().max(100_000).optional(),
  warmStart: z.boolean().default(true),
  json: z.boolean().optional(),
});
type TrainCliOptions = z.infer<typeof TrainCliOptions>;

/** `--all`'s summary: the round, plus one entry per job. */
export interface RoundSummary {
  all: true;
  outcome: RoundResult['outcome'];
  jobs: (Omit<RoundResult['jobs'][number], 'summary'>)[];
  train_seconds: number;
}

function parseOptions(raw: Record<string, unknown>): TrainCliOptions {
  const parsed = TrainCliOptions.safeParse(raw);
  if (!parsed.success) {
    const issues = issuesFromSchema(parsed.error.issues).map((i) => ({ path: `--${i.path.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, message: i.message }));
    throw new ValidationError(`invalid train options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  if (o.all && o.model) throw new ValidationError('--all and --model exclude each other', [{ path: '--all', message: 'pass one of them' }]);
  if (o.all && o.params) throw new ValidationError('--params applies to one --model; for --all set trainer.params in the config file', [{ path: '--params', message: 'not with --all' }]);
  return o;
}

function parseParams(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ValidationError('--params must be a JSON object', [{ path: '--params', message: e instanceof Error ? e.message : String(e) }]);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('--params must be a JSON object', [{ path: '--params', message: 'expected an object' }]);
  return v as Record<string, unknown>;
}

function progressPrinter(model: string, quiet: boolean): ((p: FitProgress) => void) | undefined {
  if (quiet) return undefined;
  return (p) => {
    if (!p.valid) return;
    // A model's own message may already be the whole epoch line (sasrec); otherwise it is a suffix.
    if (p.message?.startsWith('epoch')) console.error(`${model} ${p.message} (${p.elapsedSeconds.toFixed(0)}s)`);
    else console.error(`${model} epoch ${p.epoch}: loss ${p.loss?.toFixed(4)} valid NDCG@10 ${p.valid['NDCG@10'].toFixed(4)} (${p.elapsedSeconds.toFixed(0)}s) ${p.message ?? ''}`);
  };
}

async function runOne(o: TrainCliOptions, config: Config): Promise<JobSummary> {
  const model = o.model ?? 'twotower';
  const job = jobFor(model)!; // the option schema admitted only trainableNames()
  const params = parseParams(o.params) ?? config.trainer.params[model];
  const store = await openStore(config.store);
  const lock = acquireLock(lockPath(config.dataDir), { onStale: (why) => console.error(`removing a stale round lock (${why})`) });
  try {
    let data: Promise<TrainingData> | undefined;
    return await job.run({
      store, registry: new ModelRegistry(config.dataDir), maxMinutes: o.maxMinutes, seed: o.seed, params, warmStart: o.warmStart,
      eventWeights: config.eventWeights, engineConfig: config.engine,
      data: () => (data ??= loadTrainingData(store, config.eventWeights)),
      onProgress: progressPrinter(model, o.json === true),
      log: o.json ? undefined : (m) => console.error(m),
    });
  } finally {
    lock.release();
    await store.close();
  }
}

async function runAll(o: TrainCliOptions, config: Config): Promise<RoundSummary> {
  const store = await openStore(config.store);
  try {
    const trainer = new Trainer({
      store, dataDir: config.dataDir, eventWeights: config.eventWeights, engineConfig: config.engine,
      config: { ...config.trainer, seed: o.seed, ...(o.maxMinutes !== undefined ? { maxMinutesPerRun: o.maxMinutes } : {}) },
      log: o.json ? undefined : (m) => console.error(m),
    });
    const r = await trainer.runOnce('train --all');
    return { all: true, outcome: r.outcome, jobs: r.jobs.map(({ summary: _s, ...j }) => j), train_seconds: (r.endedAt - r.startedAt) / 1000 };
  } finally {
    await store.close();
  }
}

export async function runTrain(raw: Record<string, unknown>): Promise<JobSummary | RoundSummary> {
  const o = parseOptions(raw);
  const config = loadConfig({ env: process.env, file: o.config, flags: { store: o.db, dataDir: o.dataDir } });
  return o.all ? runAll(o, config) : runOne(o, config);
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Train a model (or --all: one trainer round) on the stored events, register versions, activate them if better')
    .option('--db <path>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE, default <data-dir>/tastemaker.db)')
    .option('--data-dir <dir>', 'where model versions live (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file (its trainer section: models, shares, params)')
    .option('--model <name>', `one of ${trainableNames().join(', ')} (default twotower)`)
    .option('--all', 'one trainer round: every model of trainer.models in turn, the budget split across them')
    .option('--max-minutes <m>', 'training budget in minutes (with --all: for the whole round; default trainer.maxMinutesPerRun)')
    .option('--seed <n>', 'random seed', '42')
    .option('--params <json>', 'model hyper-parameter overrides as JSON, e.g. {"dim":32}')
    .option('--no-warm-start', 'start from fresh weights even when the active version could seed the fit')
    .option('--json', 'print only the JSON summary')
    .action(async (raw: Record<string, unknown>) => {
      try {
        const s = await runTrain(raw);
        if (!raw.json) {
          if ('all' in s) console.log(`round ${s.outcome} in ${s.train_seconds.toFixed(1)}s: ${s.jobs.map((j) => `${j.model} ${j.outcome}${j.version ? ` ${j.version}` : ''}`).join(', ')}`);
          else console.log(`${s.model} ${s.version}: valid NDCG@10 ${s['valid.NDCG@10'].toFixed(4)} in ${s.train_seconds.toFixed(1)}s; ` + (s.activated ? 'activated' : `not activated (${s.reason})`));
        }
        console.log(JSON.stringify(s));
        if ('all' in s && s.outcome === 'failed') process.exitCode = 1;
      } catch (e) {
        if (!isTastemakerError(e)) console.error('training failed; the active model is unchanged');
        throw e;
      }
    });
}
