/**
 * One trainer round over a store, as the benches that serve trained models run it. Written as one small
 * function so the switch to `tastemaker train --all` (landing from the trainer branch) is automatic: when
 * `train --help` lists `--all`, that one command trains everything in the budget; until then the models
 * are trained one after the other by their own commands.
 */
import { lastJsonLine, runCli } from './children.js';

export interface TrainRoundOptions {
  db: string;
  dataDir: string;
  maxMinutes: number;
  seed: number;
  /** Per-model `--params` for the per-model commands (ignored by `train --all`). */
  trainParams?: Record<string, Record<string, unknown>>;
  log?: (m: string) => void;
}

export interface TrainRoundResult {
  command: string;
  seconds: number;
  /** The last JSON line of each command. */
  summaries: Record<string, unknown>[];
}

/** Whether `tastemaker train` takes `--all`. */
export async function trainHasAll(): Promise<boolean> {
  return /--all\b/.test(await runCli(['train', '--help'], { echo: false }));
}

/**
 * `train --all` when the CLI has it; otherwise the two-tower (a third of the budget; it usually stops
 * early), SASRec (what is left but a tenth), the served blend of the two and the ranker (neither has a
 * budget option; the ranker takes 1–4 minutes on ML-1M), in turn. Training output streams to stderr.
 */
export async function trainRound(o: TrainRoundOptions): Promise<TrainRoundResult> {
  const log = o.log ?? (() => undefined);
  const common = ['--db', o.db, '--data-dir', o.dataDir, '--seed', String(o.seed)];
  const t0 = performance.now();
  const seconds = (): number => Math.round((performance.now() - t0) / 100) / 10;
  if (await trainHasAll()) {
    log(`train --all --max-minutes ${o.maxMinutes}`);
    const out = await runCli(['train', '--all', ...common, '--max-minutes', String(o.maxMinutes)]);
    return { command: 'train --all', seconds: seconds(), summaries: [lastJsonLine(out)] };
  }
  const minutesLeft = (): number => o.maxMinutes - (performance.now() - t0) / 60_000;
  const budgets: [string, () => number][] = [
    ['twotower', () => o.maxMinutes / 3],
    ['sasrec', () => Math.max(o.maxMinutes / 10, minutesLeft() - o.maxMinutes / 10)],
  ];
  const summaries: Record<string, unknown>[] = [];
  for (const [model, budget] of budgets) {
    const minutes = Math.round(budget() * 1000) / 1000;
    log(`train --model ${model} --max-minutes ${minutes}`);
    const params = o.trainParams?.[model] ? ['--params', JSON.stringify(o.trainParams[model])] : [];
    summaries.push(lastJsonLine(await runCli(['train', ...common, '--model', model, '--max-minutes', String(minutes), ...params])));
  }
  // The served mix of the two (no budget: it scores validation users), then the ranker, which trains on
  // the blend's pools when one is active.
  log('train --model blend');
  summaries.push(lastJsonLine(await runCli(['train', ...common, '--model', 'blend'])));
  log('train-ranker');
  summaries.push(lastJsonLine(await runCli(['train-ranker', ...common])));
  return { command: 'train --model twotower; train --model sasrec; train --model blend; train-ranker', seconds: seconds(), summaries };
}
