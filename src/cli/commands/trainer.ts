/**
 * `tastemaker trainer --db <path> [--data-dir D] [--config F] [--once] [--json]`: the trainer role as a
 * process of its own (scale-out: one trainer writing versions that every `serve` replica picks up), and
 * what `serve`/`demo` start as their child. It retrains every model of `trainer.models` on the schedule
 * of the config's `trainer` section until SIGINT/SIGTERM; `--once` runs one round now and exits with its
 * JSON summary. A round in progress when a signal arrives is abandoned: the active versions keep serving
 * and the next start cleans up after it.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig, printConfig } from '../../core/config.js';
import { ValidationError, issuesFromSchema } from '../../core/errors.js';
import { openStore } from '../../store/index.js';
import { Trainer } from '../../train/index.js';

const Options = z.strictObject({
  db: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  once: z.boolean().optional(),
  json: z.boolean().optional(),
});

export async function runTrainer(raw: Record<string, unknown>, log: (m: string) => void = (m) => console.error(m)): Promise<void> {
  const parsed = Options.safeParse(raw);
  if (!parsed.success) {
    const issues = issuesFromSchema(parsed.error.issues).map((i) => ({ path: `--${i.path}`, message: i.message }));
    throw new ValidationError(`invalid trainer options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  const config = loadConfig({ env: process.env, file: o.config, flags: { store: o.db, dataDir: o.dataDir } });
  const store = await openStore(config.store);
  const trainer = new Trainer({ store, dataDir: config.dataDir, config: config.trainer, eventWeights: config.eventWeights, engineConfig: config.engine, log });
  try {
    if (o.once) {
      const r = await trainer.runOnce('trainer --once');
      console.log(JSON.stringify({ outcome: r.outcome, jobs: r.jobs.map(({ summary: _s, ...j }) => j), train_seconds: (r.endedAt - r.startedAt) / 1000 }));
      if (r.outcome === 'failed') process.exitCode = 1;
      return;
    }
    if (!o.json) log(`trainer: config ${JSON.stringify(JSON.parse(printConfig(config)).trainer)}`);
    log(`trainer: watching ${config.store} (pid ${process.pid}); models in ${config.dataDir}`);
    trainer.start();
    await new Promise<void>((resolve) => {
      const stop = (why: string): void => {
        log(`trainer: ${why}: stopping`);
        // A fit cannot be interrupted between epochs from here; leaving is safe (see the file header).
        const exitSoon = setTimeout(() => process.exit(0), 1_000);
        exitSoon.unref();
        void trainer.stop().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      // Started by serve/demo: leave with the server, even when it was killed with -9.
      if (process.send) process.once('disconnect', () => stop('server gone'));
    });
  } finally {
    await store.close().catch(() => undefined);
  }
}

export function register(program: Command): void {
  program
    .command('trainer')
    .description('run the trainer role: retrain every served model on a schedule and when enough new events arrive')
    .option('--db <path>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE, default <data-dir>/tastemaker.db)')
    .option('--data-dir <dir>', 'where model versions and the trainer state live (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file (its trainer section; env TASTEMAKER_CONFIG)')
    .option('--once', 'run one round now, print its JSON summary and exit')
    .option('--json', 'no config line at start')
    .action(async (raw: Record<string, unknown>) => {
      await runTrainer(raw);
    });
}
