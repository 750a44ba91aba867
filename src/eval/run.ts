/**
 * One offline experiment end to end: load → split → fit (hyper-parameters chosen on validation) →
 * evaluate on the test split once → a flat result row. The CLI (`tastemaker eval`) and benches call this;
 * the row's keys are the stable contract in DESIGN.md (dataset, model, protocol, users, items, HR@k,
 * NDCG@k, MRR, coverage@10, train_seconds, eval_seconds, …).
 */
import type { InteractionDataset } from '../core/dataset.js';
import { readDataset, type DatasetFormat } from '../ingest/datasets.js';
import { createModel } from '../models/index.js';
import type { FitProgress, ItemSideInfo } from '../models/types.js';
import { DEFAULT_KS, evaluateSplit } from './evaluate.js';
import { split, type EvalSplit, type ProtocolName, type SplitOptions } from './protocols.js';

export type ResultRow = Record<string, unknown> & {
  dataset: string;
  model: string;
  protocol: ProtocolName;
  users: number;
  items: number;
  train_seconds: number;
  eval_seconds: number;
};

export interface ExperimentOptions {
  seed: number;
  params?: Record<string, unknown>;
  ks?: readonly number[];
  maxMinutes?: number;
  onFitProgress?: (p: FitProgress) => void;
  onEvalProgress?: (done: number, total: number) => void;
}

export interface PreparedData {
  dataset: InteractionDataset;
  split: EvalSplit;
  side: ItemSideInfo;
}

export async function prepare(path: string, format: DatasetFormat, protocol: ProtocolName, splitOpts: SplitOptions = {}): Promise<PreparedData> {
  const dataset = await readDataset(path, format);
  return {
    dataset,
    split: split(dataset, protocol, splitOpts),
    side: { tags: dataset.itemTags, titles: dataset.itemTitles, creators: dataset.itemCreators },
  };
}

export async function runExperiment(data: PreparedData, modelName: string, opts: ExperimentOptions): Promise<ResultRow> {
  const { dataset, split: s, side } = data;
  const model = createModel(modelName, opts.params);
  try {
    const t0 = performance.now();
    const report = await model.fit({
      train: s.train,
      validTargets: s.validTargets,
      side,
      seed: opts.seed,
      maxMinutes: opts.maxMinutes,
      onProgress: opts.onFitProgress,
    });
    const t1 = performance.now();
    const metrics = await evaluateSplit(model, s, {
      ks: opts.ks ?? DEFAULT_KS,
      side,
      seed: opts.seed,
      onProgress: opts.onEvalProgress,
    });
    const t2 = performance.now();
    const { users, ...rest } = metrics;
    const at10 = (name: string): number | null => (rest[`${name}@10`] as number | null | undefined) ?? null;
    return {
      dataset: dataset.name,
      model: modelName,
      protocol: s.protocol,
      users: Number(users),
      items: s.train.numItems,
      ...roundAll(rest),
      novelty: round(at10('novelty')),
      diversity: round(at10('diversity')),
      gini_items: round(at10('gini_items')),
      gini_creators: round(at10('gini_creators')),
      train_seconds: round((t1 - t0) / 1000, 3) as number,
      eval_seconds: round((t2 - t1) / 1000, 3) as number,
      params: report.params,
      valid: report.valid ? roundAll(report.valid) : undefined,
      seed: opts.seed,
      skipped_users: s.skippedUsers,
      ...(s.cutMs !== undefined ? { cut: new Date(s.cutMs).toISOString() } : {}),
    };
  } finally {
    await model.dispose?.();
  }
}

function round(v: number | null, digits = 5): number | null {
  if (v === null || !Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function roundAll<T extends Record<string, number | null>>(r: T): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(r)) out[k] = round(v);
  return out;
}
