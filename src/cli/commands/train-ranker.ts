/**
 * `tastemaker train-ranker --db <path> [--data-dir D] [--pool 200] [--negatives 100] [--users 20000] [--seed S] [--json]`:
 * trains the learned multi-objective ranker on the stored log (src/engine/models.ts), registers the version
 * in the model registry and activates it unless it validates worse than the active one. A running
 * `tastemaker serve` over the same data dir picks it up within seconds.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { acquireLock, lockPath, trainRankerFromStore, type TrainRankerSummary } from '../../train/index.js';
import { ModelRegistry } from '../../registry/index.js';
import { openStore } from '../../store/index.js';

const Options = z.strictObject({
  db: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  pool: z.coerce.number().int().min(10).max(1_000).default(200),
  negatives: z.coerce.number().int().min(1).max(1_000).default(100),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(1),
  users: z.coerce.number().int().min(10).max(10_000_000).default(20_000),
  json: z.boolean().optional(),
});

export async function runTrainRanker(raw: Record<string, unknown>): Promise<TrainRankerSummary> {
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: `--${String(i.path[0] ?? 'options')}`, message: i.message }));
    throw new ValidationError(`invalid train-ranker options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  const config = loadConfig({ env: process.env, file: o.config, flags: { store: o.db, dataDir: o.dataDir } });
  const store = await openStore(config.store);
  // The trainer's round lock: never two CPU-heavy jobs on one data dir at once.
  const lock = acquireLock(lockPath(config.dataDir), { onStale: (why) => console.error(`removing a stale round lock (${why})`) });
  try {
    return await trainRankerFromStore(store, new ModelRegistry(config.dataDir), {
      engineConfig: { ...config.engine, eventWeights: config.eventWeights },
      poolSize: o.pool,
      negatives: o.negatives,
      seed: o.seed,
      maxUsers: o.users,
    });
  } finally {
    lock.release();
    await store.close();
  }
}

export function register(program: Command): void {
  program
    .command('train-ranker')
    .description('Train the learned ranker on the stored events, register a version, activate it if better')
    .option('--db <path>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE, default <data-dir>/tastemaker.db)')
    .option('--data-dir <dir>', 'where model versions live (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file (its engine section shapes the candidate pools)')
    .option('--pool <n>', 'candidates per user the ranker re-scores', '200')
    .option('--negatives <n>', 'pool negatives sampled per user', '100')
    .option('--seed <n>', 'random seed', '1')
    .option('--users <n>', 'most users whose last episode is a training/validation target', '20000')
    .option('--json', 'print only the JSON summary')
    .action(async (raw: Record<string, unknown>) => {
      const s = await runTrainRanker(raw);
      if (!raw.json) {
        console.log(
          `ranker ${s.version}: valid NDCG@10 ${s['valid.NDCG@10'].toFixed(4)} (pool order ${s['valid.poolNDCG@10'].toFixed(4)}) ` +
            `in ${s.train_seconds.toFixed(1)}s; ${s.activated ? 'activated' : `not activated (${s.reason})`}`,
        );
      }
      console.log(JSON.stringify(s));
    });
}
