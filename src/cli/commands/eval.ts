/**
 * `tastemaker eval --data <file> --format <fmt> --model <name> --protocol <p> [--max-minutes M]
 *  [--seed S] [--params JSON] [--ks 1,5,10,20,50] [--cut q|ISO] [--compare a,b,c] [--report dir] [--json]`
 * Offline evaluation (src/eval): fits the model with hyper-parameters chosen on the validation split and
 * ranks the held-out test items against the full catalog. The last stdout line is always one JSON object
 * (one result row, or {compare: [rows]}); progress goes to stderr only when it is a terminal.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { createProgress, type Progress } from '../../core/progress.js';
import { DEFAULT_KS, checkKs } from '../../eval/evaluate.js';
import { ProtocolName, type SplitOptions } from '../../eval/protocols.js';
import { formatTable, writeReport } from '../../eval/report.js';
import { prepare, runExperiment, type ResultRow } from '../../eval/run.js';
import { DatasetFormat } from '../../ingest/datasets.js';
import { modelNames } from '../../models/index.js';

const csvList = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

const EvalCliOptions = z.strictObject({
  data: z.string({ error: 'is required' }).min(1, 'is required'),
  format: DatasetFormat,
  model: z.string().min(1).optional(),
  protocol: ProtocolName.default('loo-full'),
  maxMinutes: z.coerce.number().positive().max(24 * 60).optional(),
  seed: z.coerce.number().int().min(0).max(2 ** 32 - 1).default(42),
  params: z.string().optional(),
  json: z.boolean().optional(),
  compare: z.string().optional(),
  report: z.string().min(1).optional(),
  ks: z.string().optional(),
  cut: z.string().optional(),
});

export interface EvalCommandOptions {
  data: string;
  format: DatasetFormat;
  models: string[];
  protocol: ProtocolName;
  maxMinutes?: number;
  seed: number;
  params?: Record<string, unknown>;
  json: boolean;
  compare: boolean;
  report?: string;
  ks: number[];
  split: SplitOptions;
}

function flag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function bad(name: string, message: string): ValidationError {
  return new ValidationError(`${flag(name)}: ${message}`, [{ path: flag(name), message }]);
}

/** Validates commander's raw options; every error names the flag. */
export function parseEvalOptions(raw: Record<string, unknown>): EvalCommandOptions {
  const parsed = EvalCliOptions.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: flag(String(i.path[0] ?? 'options')), message: i.message }));
    throw new ValidationError(`invalid eval options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  const known = modelNames();
  let models: string[];
  if (o.compare !== undefined) {
    models = csvList(o.compare);
    if (models.length === 0) throw bad('compare', 'needs a comma-separated list of models');
    if (o.model !== undefined) throw bad('model', 'use either --model or --compare');
  } else {
    if (o.model === undefined) throw bad('model', `is required (one of ${known.join(', ')})`);
    models = [o.model];
  }
  for (const m of models) if (!known.includes(m)) throw bad(o.compare !== undefined ? 'compare' : 'model', `unknown model '${m}' (one of ${known.join(', ')})`);

  let params: Record<string, unknown> | undefined;
  if (o.params !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(o.params);
    } catch {
      throw bad('params', 'is not valid JSON');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('params', 'must be a JSON object');
    params = v as Record<string, unknown>;
  }

  let ks: number[] = [...DEFAULT_KS];
  if (o.ks !== undefined) {
    const parts = csvList(o.ks).map(Number);
    if (parts.length === 0 || parts.some((k) => !Number.isInteger(k))) throw bad('ks', 'must be a comma-separated list of integers');
    try {
      ks = checkKs(parts);
    } catch (e) {
      throw bad('ks', e instanceof Error ? e.message : String(e));
    }
  }
  if (!ks.includes(10) || !ks.includes(50)) ks = checkKs([...ks, 10, 50]); // the contract's columns

  const split: SplitOptions = {};
  if (o.cut !== undefined) {
    if (o.protocol !== 'temporal') throw bad('cut', 'only applies to --protocol temporal');
    const q = Number(o.cut);
    if (Number.isFinite(q) && q > 0 && q < 1) split.cutQuantile = q;
    else {
      const t = Date.parse(o.cut);
      if (Number.isNaN(t)) throw bad('cut', 'must be a quantile in (0,1) or an ISO-8601 date');
      split.cutMs = t;
    }
  }
  return {
    data: o.data,
    format: o.format,
    models,
    protocol: o.protocol,
    maxMinutes: o.maxMinutes,
    seed: o.seed,
    params,
    json: Boolean(o.json),
    compare: o.compare !== undefined,
    report: o.report,
    ks,
    split,
  };
}

/** Runs the evaluation and returns the final JSON object (also used by tests and benches). */
export async function runEvalCommand(opts: EvalCommandOptions, log: (line: string) => void = () => {}): Promise<Record<string, unknown>> {
  const tty = Boolean(process.stderr.isTTY);
  const data = await prepare(opts.data, opts.format, opts.protocol, opts.split);
  log(`${data.dataset.name}: ${data.dataset.seqs.numUsers} users, ${data.dataset.seqs.numItems} items, ${data.dataset.seqs.items.length} interactions; ${data.split.testUsers.length} test users (${opts.protocol})`);
  const rows: ResultRow[] = [];
  for (const name of opts.models) {
    let bar: Progress | undefined;
    const row = await runExperiment(data, name, {
      seed: opts.seed,
      params: opts.params,
      ks: opts.ks,
      maxMinutes: opts.maxMinutes,
      onFitProgress: (p) => {
        if (!tty) return;
        const parts = [`[${name}] ${p.elapsedSeconds.toFixed(1)}s`];
        if (p.epoch !== undefined) parts.push(`epoch ${p.epoch}`);
        if (p.loss !== undefined) parts.push(`loss ${p.loss.toFixed(4)}`);
        if (p.message) parts.push(p.message);
        if (p.valid) parts.push(Object.entries(p.valid).map(([k, v]) => `valid ${k} ${v.toFixed(4)}`).join(' '));
        process.stderr.write(parts.join('  ') + '\n');
      },
      onEvalProgress: (done, total) => {
        bar ??= createProgress(`eval ${name}`, total, { unit: 'users' });
        bar.update(done, total);
      },
    });
    bar?.stop();
    rows.push(row);
    if (!opts.compare) {
      log(`${name}: HR@10 ${fmt(row['HR@10'])}  NDCG@10 ${fmt(row['NDCG@10'])}  HR@50 ${fmt(row['HR@50'])}  NDCG@50 ${fmt(row['NDCG@50'])}  MRR ${fmt(row.MRR)}  coverage@10 ${fmt(row['coverage@10'])}  (train ${row.train_seconds}s, eval ${row.eval_seconds}s, params ${JSON.stringify(row.params)})`);
    }
  }
  if (opts.compare) log(formatTable(rows));
  if (opts.report) {
    const files = await writeReport(opts.report, rows, opts.ks);
    log(`report: ${files.join(', ')}`);
  }
  return opts.compare ? { compare: rows } : rows[0];
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? v.toFixed(4) : String(v);
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('Offline evaluation: fit a model on a dataset split and rank held-out items (full ranking)')
    .option('--data <file>', 'dataset file or directory')
    .option('--format <fmt>', `one of ${DatasetFormat.options.join(', ')}`)
    .option('--model <name>', 'model to evaluate (popular, itemknn, ease, bpr, ...)')
    .option('--protocol <p>', `one of ${ProtocolName.options.join(', ')} (default loo-full)`)
    .option('--max-minutes <m>', 'training time budget')
    .option('--seed <s>', 'random seed (default 42)')
    .option('--params <json>', 'model hyper-parameters as a JSON object (fixes them instead of searching)')
    .option('--ks <list>', 'cut-offs, e.g. 1,5,10,20,50')
    .option('--cut <q|date>', 'temporal protocol: cut quantile of timestamps (default 0.9) or ISO date')
    .option('--compare <list>', 'evaluate several models, e.g. popular,itemknn,ease,bpr')
    .option('--report <dir>', 'write results.json, results.md and chart.svg into dir')
    .option('--json', 'print only the JSON line')
    .action(async (raw: Record<string, unknown>) => {
      const opts = parseEvalOptions(raw);
      const out = await runEvalCommand(opts, opts.json ? () => {} : (l) => console.log(l));
      console.log(JSON.stringify(out));
    });
}
