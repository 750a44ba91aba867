/**
 * One trainer round over a store, as the benches that serve trained models run it: `tastemaker train
 * --all` (every trainer job in turn — two-tower, SASRec, the served blend, the ranker — inside one
 * budget, src/train/round.ts). Per-model hyper-parameters go in as the config file's `trainer.params`.
 * Training output streams to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastJsonLine, runCli } from './children.js';

export interface TrainRoundOptions {
  db: string;
  dataDir: string;
  maxMinutes: number;
  seed: number;
  /** Per-model hyper-parameter overrides (config `trainer.params`), e.g. {"sasrec": {"loss": "sampled-softmax"}}. */
  trainParams?: Record<string, Record<string, unknown>>;
  log?: (m: string) => void;
}

export interface TrainRoundResult {
  command: string;
  seconds: number;
  /** The round's JSON summary (the last stdout line of `train --all`). */
  summaries: Record<string, unknown>[];
}

export async function trainRound(o: TrainRoundOptions): Promise<TrainRoundResult> {
  const t0 = performance.now();
  const args = ['train', '--all', '--db', o.db, '--data-dir', o.dataDir, '--seed', String(o.seed), '--max-minutes', String(o.maxMinutes)];
  const params = o.trainParams && Object.keys(o.trainParams).length > 0 ? o.trainParams : undefined;
  const dir = params ? mkdtempSync(join(tmpdir(), 'tastemaker-train-round-')) : undefined;
  try {
    if (dir) {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ trainer: { params } }));
      args.push('--config', file);
    }
    o.log?.(`train --all --max-minutes ${o.maxMinutes}${params ? ` (trainer.params ${JSON.stringify(params)})` : ''}`);
    const out = await runCli(args);
    return { command: 'train --all', seconds: Math.round((performance.now() - t0) / 100) / 10, summaries: [lastJsonLine(out)] };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
