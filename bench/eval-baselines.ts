/**
 * Offline-evaluation baselines: popular, itemknn, ease, bpr under `loo-full` (full ranking) on one
 * dataset, default ML-1M (sasrec format). Same code path as `tastemaker eval --compare`; reports each
 * model's HR/NDCG@10/50, MRR, coverage@10 and seconds, plus EASE's train + eval seconds (target < 60 s).
 *
 *   tastemaker bench eval-baselines --json [--data ../shared/data/movielens-1m/derived/ml-1m.sasrec-format.txt]
 *     [--format sasrec] [--models popular,itemknn,ease,bpr] [--protocol loo-full] [--seed 42]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseEvalOptions, runEvalCommand } from '../src/cli/commands/eval.js';
import type { ResultRow } from '../src/eval/run.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const KEYS = ['model', 'HR@10', 'NDCG@10', 'HR@50', 'NDCG@50', 'MRR', 'coverage@10', 'train_seconds', 'eval_seconds', 'params'];

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: resolve(REPO, '../shared/data/movielens-1m/derived/ml-1m.sasrec-format.txt') },
      format: { type: 'string', default: 'sasrec' },
      models: { type: 'string', default: 'popular,itemknn,ease,bpr' },
      protocol: { type: 'string', default: 'loo-full' },
      seed: { type: 'string', default: '42' },
    },
    strict: true,
  });
  const opts = parseEvalOptions({ data: values.data, format: values.format, compare: values.models, protocol: values.protocol, seed: values.seed });
  const out = (await runEvalCommand(opts)) as { compare: ResultRow[] };
  const rows = out.compare.map((r) => Object.fromEntries(KEYS.map((k) => [k, r[k]])));
  const ease = out.compare.find((r) => r.model === 'ease');
  const first = out.compare[0];
  return {
    bench: 'eval-baselines',
    dataset: first?.dataset,
    protocol: first?.protocol,
    users: first?.users,
    items: first?.items,
    rows,
    ...(ease ? { ease_train_plus_eval_seconds: Math.round((ease.train_seconds + ease.eval_seconds) * 1000) / 1000 } : {}),
  };
}
