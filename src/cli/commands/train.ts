/**
 * `tastemaker train --db <path> [--model twotower|sasrec] [--max-minutes M] [--seed S] [--params JSON]
 * [--data-dir D] [--json]`: the offline training job. Reads the event log and catalog from the store, builds
 * per-user chronological sequences of positive feedback (event weight > 0), holds out each user's last
 * item for validation, fits, registers a new model version with its metrics and activates it only when
 * its validation NDCG@10 is at least the active version's. A failed fit registers nothing, so the active
 * model is untouched. The last stdout line is a JSON summary.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { ConflictError, ValidationError, isTastemakerError } from '../../core/errors.js';
import { sequencesFromLists, type Sequences } from '../../core/dataset.js';
import { DEFAULT_EVENT_WEIGHTS } from '../../core/schemas.js';
import { ModelRegistry, type Tensor } from '../../registry/index.js';
import { SasrecRecommender } from '../../models/sasrec-train.js';
import { TwoTowerRecommender } from '../../models/twotower-train.js';
import type { FitProgress, FitReport, ItemSideInfo, Recommender } from '../../models/types.js';
import { openStore, type Store } from '../../store/index.js';
import { trainBlendFromStore, type BlendJobSummary } from '../../train/blend.js';

/** Models the train job can persist (they expose artifacts for the registry). */
export const TRAINABLE_MODELS = ['twotower', 'sasrec'] as const;
export type TrainableModelName = (typeof TRAINABLE_MODELS)[number];

/** A Recommender the registry can store: weights + config, and optionally item vectors for the ANN source. */
export interface TrainableModel extends Recommender {
  toArtifacts(): { config: Record<string, unknown>; weights: Record<string, Tensor> };
  itemEmbeddings?(): Float32Array;
  dispose(): Promise<void>;
}

function defaultModel(name: string): TrainableModel {
  return name === 'sasrec' ? new SasrecRecommender() : new TwoTowerRecommender();
}

/** Per-user history cap: the most recent events only, so one bot-like user cannot dominate memory. */
const MAX_EVENTS_PER_USER = 5_000;

export interface TrainingData {
  train: Sequences;
  validTargets: Int32Array;
  userIds: string[];
  itemIds: string[];
  side: ItemSideInfo;
  events: number;
}

/**
 * Catalog + positive events → sequences with the last item of users with ≥ 3 items held out. Consecutive
 * positive events on the same item (play → complete → like of one track) are one step of the sequence:
 * otherwise "the next item is the last one again" dominates both the training pairs and the held-out item,
 * which no surface can use (served lists exclude what the user just consumed).
 */
export async function loadTrainingData(store: Store, eventWeights: Readonly<Record<string, number>> = DEFAULT_EVENT_WEIGHTS): Promise<TrainingData> {
  const itemIx = new Map<string, number>();
  const itemIds: string[] = [];
  const tags: string[][] = [], titles: string[] = [], creators: (string | undefined)[] = [];
  for (let afterId: string | undefined; ; ) {
    const page = await store.scanItems({ afterId, limit: 1000 });
    if (page.length === 0) break;
    for (const it of page) {
      itemIx.set(it.id, itemIds.length);
      itemIds.push(it.id);
      tags.push(it.tags);
      titles.push(it.title);
      creators.push(it.creatorId);
    }
    afterId = page[page.length - 1].id;
  }
  const userIx = new Map<string, number>();
  const userIds: string[] = [];
  const perUser: { ts: number[]; seq: number[]; item: number[] }[] = [];
  let events = 0;
  for await (const batch of store.scanEvents({ batchSize: 5000 })) {
    for (const e of batch) {
      if ((eventWeights[e.type] ?? 1) <= 0) continue;
      let i = itemIx.get(e.itemId);
      if (i === undefined) {
        i = itemIds.length;
        itemIx.set(e.itemId, i);
        itemIds.push(e.itemId);
        tags.push([]);
        titles.push('');
        creators.push(undefined);
      }
      let u = userIx.get(e.userId);
      if (u === undefined) {
        u = userIds.length;
        userIx.set(e.userId, u);
        userIds.push(e.userId);
        perUser.push({ ts: [], seq: [], item: [] });
      }
      perUser[u].ts.push(e.timestamp);
      perUser[u].seq.push(e.seq);
      perUser[u].item.push(i);
      events++;
    }
  }
  const validTargets = new Int32Array(userIds.length).fill(-1);
  const lists: number[][] = [];
  for (let u = 0; u < perUser.length; u++) {
    const { ts, seq, item } = perUser[u];
    const order = ts.map((_, k) => k).sort((a, b) => ts[a] - ts[b] || seq[a] - seq[b]);
    let items: number[] = [];
    for (const k of order) if (items.length === 0 || items[items.length - 1] !== item[k]) items.push(item[k]);
    if (items.length > MAX_EVENTS_PER_USER) items = items.slice(-MAX_EVENTS_PER_USER);
    if (items.length >= 3) validTargets[u] = items.pop()!;
    lists.push(items);
  }
  return { train: sequencesFromLists(lists, itemIds.length), validTargets, userIds, itemIds, side: { tags, titles, creators }, events };
}

export interface TrainSummary {
  model: string;
  version: string;
  activated: boolean;
  activeVersion: string | null;
  reason?: string;
  users: number;
  items: number;
  events: number;
  epochs?: number;
  'valid.NDCG@10': number;
  train_seconds: number;
}

/** The job itself, separate from argument parsing so tests can drive it with any store. */
export async function trainFromStore(
  store: Store,
  registry: ModelRegistry,
  opts: { model: string; maxMinutes?: number; seed: number; params?: Record<string, unknown>; eventWeights?: Readonly<Record<string, number>>; onProgress?: (p: FitProgress) => void },
  createModel: () => TrainableModel = () => defaultModel(opts.model),
): Promise<TrainSummary> {
  if (!(TRAINABLE_MODELS as readonly string[]).includes(opts.model)) {
    throw new ValidationError(`model ${opts.model} cannot be trained by this command`, [{ path: '--model', message: `one of ${TRAINABLE_MODELS.join(', ')}` }]);
  }
  const data = await loadTrainingData(store, opts.eventWeights);
  if (data.train.items.length < 2 || data.itemIds.length < 2) {
    throw new ValidationError('not enough positive events to train', [{ path: '--db', message: `${data.events} positive events over ${data.itemIds.length} items` }]);
  }
  const model = createModel();
  let report: FitReport, config: Record<string, unknown>, weights: Record<string, Tensor>;
  try {
    report = await model.fit({ train: data.train, validTargets: data.validTargets, side: data.side, seed: opts.seed, maxMinutes: opts.maxMinutes, params: opts.params, onProgress: opts.onProgress });
    ({ config, weights } = model.toArtifacts());
    if (model.itemEmbeddings) weights = { ...weights, itemVectors: model.itemEmbeddings() };
  } finally {
    await model.dispose();
  }
  const validNdcg = report.valid?.['NDCG@10'] ?? 0;
  const valid: Record<string, number> = {};
  for (const [k, v] of Object.entries(report.valid ?? {})) if (Number.isFinite(v)) valid[`valid.${k}`] = v;
  const version = registry.register(opts.model, {
    config,
    metrics: { ...valid, 'valid.NDCG@10': validNdcg, trainSeconds: report.trainSeconds, epochs: report.epochs ?? 0, users: data.userIds.length, items: data.itemIds.length, events: data.events },
    weights,
    files: { 'items.json': JSON.stringify(data.itemIds), 'users.json': JSON.stringify(data.userIds) },
  });
  let activated = false;
  let reason: string | undefined;
  try {
    registry.activate(opts.model, version);
    activated = true;
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e;
    reason = e.message;
  }
  return {
    model: opts.model,
    version,
    activated,
    activeVersion: registry.active(opts.model)?.version ?? null,
    ...(reason ? { reason } : {}),
    users: data.userIds.length,
    items: data.itemIds.length,
    events: data.events,
    epochs: report.epochs,
    'valid.NDCG@10': validNdcg,
    train_seconds: report.trainSeconds,
  };
}

const TrainCliOptions = z.strictObject({
  db: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  model: z.enum([...TRAINABLE_MODELS, 'blend']).default('twotower'),
  maxMinutes: z.coerce.number().gt(0).max(10_000).optional(),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(42),
  params: z.string().optional(),
  json: z.boolean().optional(),
});

export async function runTrain(raw: Record<string, unknown>): Promise<TrainSummary | BlendJobSummary> {
  const parsed = TrainCliOptions.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: `--${String(i.path[0] ?? 'options').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, message: i.message }));
    throw new ValidationError(`invalid train options: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
  const o = parsed.data;
  let params: Record<string, unknown> | undefined;
  if (o.params) {
    try {
      params = JSON.parse(o.params) as Record<string, unknown>;
    } catch (e) {
      throw new ValidationError('--params must be a JSON object', [{ path: '--params', message: e instanceof Error ? e.message : String(e) }]);
    }
  }
  const config = loadConfig({ env: process.env, file: o.config, flags: { store: o.db, dataDir: o.dataDir } });
  const store = await openStore(config.store);
  try {
    const quiet = o.json === true;
    if (o.model === 'blend') return await trainBlendFromStore(store, new ModelRegistry(config.dataDir), { seed: o.seed, eventWeights: config.eventWeights, log: quiet ? undefined : (m) => console.error(m) });
    return await trainFromStore(store, new ModelRegistry(config.dataDir), {
      model: o.model,
      maxMinutes: o.maxMinutes,
      seed: o.seed,
      params,
      eventWeights: config.eventWeights,
      onProgress: (p) => {
        if (quiet) return;
        if (!p.valid) return;
        // A model's own message may already be the whole epoch line (sasrec); otherwise it is a suffix.
        if (p.message?.startsWith('epoch')) console.error(`${o.model} ${p.message} (${p.elapsedSeconds.toFixed(0)}s)`);
        else console.error(`${o.model} epoch ${p.epoch}: loss ${p.loss?.toFixed(4)} valid NDCG@10 ${p.valid['NDCG@10'].toFixed(4)} (${p.elapsedSeconds.toFixed(0)}s) ${p.message ?? ''}`);
      },
    });
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Train a model on the stored events, register a new version, activate it if better')
    .option('--db <path>', 'store: SQLite path or sqlite:<path> (env TASTEMAKER_STORE, default <data-dir>/tastemaker.db)')
    .option('--data-dir <dir>', 'where model versions live (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file')
    .option('--model <name>', `one of ${TRAINABLE_MODELS.join(', ')}, or blend (the served mix of the active models, chosen on held-out users)`, 'twotower')
    .option('--max-minutes <m>', 'training budget in minutes (early stopping keeps the best epoch)')
    .option('--seed <n>', 'random seed', '42')
    .option('--params <json>', 'model hyper-parameter overrides as JSON, e.g. {"dim":32}')
    .option('--json', 'print only the JSON summary')
    .action(async (raw: Record<string, unknown>) => {
      try {
        const s = await runTrain(raw);
        if (!raw.json) {
          console.log(`${s.model} ${s.version ?? '-'}: valid NDCG@10 ${s['valid.NDCG@10'].toFixed(4)} in ${s.train_seconds.toFixed(1)}s; ` + (s.activated ? 'activated' : `not activated (${s.reason})`));
        }
        console.log(JSON.stringify(s));
      } catch (e) {
        if (!isTastemakerError(e)) console.error('training failed; the active model is unchanged');
        throw e;
      }
    });
}
