/**
 * The served blend's training job: after the members (two-tower, SASRec) are trained, choose how the
 * served `home`/`next` mix them, on held-out interactions, and guard the activation.
 *
 * 1. Weights. For a sample of validation users (history = their stored positives minus the last step,
 *    target = that last step, as every trainer validates), each active member scores the whole catalogue
 *    in its own item space; the scores are standardised per user (z over the member's items, as the
 *    serving source src/candidates/learned.ts does) and mapped into one item space, where an item a member
 *    does not know gets z = 0. α on a grid picks combined = (1 − α)·z_twotower + α·z_sasrec by validation
 *    NDCG@10 (full ranking, history excluded). This is the offline blend's weight choice (src/models/
 *    blend.ts) for members trained separately.
 * 2. Guard. The same validation users are asked for `home` by an engine warmed on everything but their
 *    held-out step and serving no learned model: the heuristic pipeline's validation NDCG@10. The blend is
 *    activated only when its validation NDCG@10 is at least that (and, by the registry's rule, at least the
 *    active blend's), so activating a model can never make the served metric worse than the heuristics on
 *    held-out users.
 */
import { ManualClock } from '../core/clock.js';
import { ConflictError, ValidationError } from '../core/errors.js';
import { sequencesFromLists, type Sequences } from '../core/dataset.js';
import { Rng } from '../core/rng.js';
import { DEFAULT_EVENT_WEIGHTS, type Event } from '../core/schemas.js';
import { createEngine, type OnlineEngine } from '../engine/index.js';
import { ModelRegistry } from '../registry/index.js';
import { SasrecRecommender } from '../models/sasrec-train.js';
import { TwoTowerRecommender } from '../models/twotower-train.js';
import { standardizeRows } from '../models/blend.js';
import type { Recommender } from '../models/types.js';
import { MemoryStore } from '../store/memory.js';
import type { Store, StoredEvent } from '../store/types.js';
import { isPositive } from '../core/events.js';
import { loadTrainingData, scanAllItems, type TrainingData } from './data.js';

export interface BlendJobOptions {
  /** Validation users sampled for the weights and the guard (bounded: each costs a full-catalogue score). */
  validUsers?: number;
  /** Grid resolution of α. */
  grid?: number;
  seed?: number;
  eventWeights?: Readonly<Record<string, number>>;
  log?: (m: string) => void;
}

export interface BlendJobSummary {
  model: 'blend';
  version: string | null;
  activated: boolean;
  reason?: string;
  weights: { sasrec: number; twotower: number };
  members: Record<string, string>;
  users: number;
  'valid.NDCG@10': number;
  'valid.HR@10': number;
  'heuristic.valid.NDCG@10': number;
  'heuristic.valid.HR@10': number;
  train_seconds: number;
}

const MEMBERS = ['twotower', 'sasrec'] as const;
type Member = (typeof MEMBERS)[number];

/** A member model loaded for scoring, with the map from its item rows to the job's item space. */
interface LoadedMember {
  name: Member;
  version: string;
  rec: Recommender;
  /** rowToItem: [model items] job item ix or -1; itemToRow: [job items] model row or -1. */
  itemToRow: Int32Array;
  numItems: number;
}

function loadMember(registry: ModelRegistry, name: Member, itemIx: Map<string, number>, numJobItems: number): LoadedMember | undefined {
  const active = registry.active(name);
  if (!active) return undefined;
  const art = registry.load(name);
  const ids = JSON.parse(art.files?.['items.json'] ?? '[]') as string[];
  const rec = name === 'sasrec' ? SasrecRecommender.fromArtifacts(art.config, art.weights, { maxBatch: 64, threads: 2 }) : TwoTowerRecommender.fromArtifacts(art.config, art.weights);
  const itemToRow = new Int32Array(numJobItems).fill(-1);
  ids.forEach((id, row) => {
    const ix = itemIx.get(id);
    if (ix !== undefined) itemToRow[ix] = row;
  });
  return { name, version: art.version, rec, itemToRow, numItems: ids.length };
}

/** The validation users' histories in a member's item space (items it does not know are dropped). */
function memberHistories(data: TrainingData, users: number[], m: LoadedMember): Sequences {
  const lists = users.map((u) => {
    const out: number[] = [];
    for (let p = data.train.offsets[u]; p < data.train.offsets[u + 1]; p++) {
      const row = m.itemToRow[data.train.items[p]];
      if (row >= 0) out.push(row);
    }
    return out;
  });
  return sequencesFromLists(lists, m.numItems);
}

/**
 * Rank (0-based) of the target among items not in the user's history: items scoring strictly higher.
 * scores: [N] in the job's item space; hist: the user's history item ixs.
 */
function rankOf(scores: Float32Array, target: number, hist: Int32Array, stamp: Int32Array, mark: number): number {
  const ts = scores[target];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) if (scores[j] > ts) rank++;
  for (let k = 0; k < hist.length; k++) {
    const it = hist[k];
    if (stamp[it] === mark) continue;
    stamp[it] = mark;
    if (it !== target && scores[it] > ts) rank--;
  }
  return rank;
}

/** Heuristic-only served home on held-out users: engine warmed on the log minus their held-out step. */
async function heuristicValidation(store: Store, data: TrainingData, users: number[], eventWeights: Readonly<Record<string, number>>): Promise<{ ndcg: number; hr: number }> {
  const targetOf = new Map<string, string>();
  for (const u of users) targetOf.set(data.userIds[u], data.itemIds[data.validTargets[u]]);
  const items = await scanAllItems(store);
  // Per sampled user, events from the first event of the held-out step on are cut (the step the loader
  // popped: the last run of positive events on the target item).
  const byUser = new Map<string, StoredEvent[]>();
  const memory = new MemoryStore();
  await memory.upsertItems(items);
  let lastMs = 0;
  let pending: Event[] = [];
  for await (const batch of store.scanEvents({ batchSize: 10_000 })) {
    for (const e of batch) {
      if (e.timestamp > lastMs) lastMs = e.timestamp;
      if (targetOf.has(e.userId)) {
        let l = byUser.get(e.userId);
        if (!l) byUser.set(e.userId, (l = []));
        l.push(e);
      } else pending.push(e);
      if (pending.length >= 50_000) {
        await memory.appendEvents(pending);
        pending = [];
      }
    }
  }
  for (const [userId, events] of byUser) {
    events.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
    const target = targetOf.get(userId)!;
    let cut = events.length;
    for (let k = events.length - 1; k >= 0; k--) {
      const e = events[k];
      if (!isPositive(e.type, eventWeights)) continue;
      if (e.itemId !== target) break;
      cut = k;
    }
    for (let k = 0; k < cut; k++) pending.push(events[k]);
  }
  await memory.appendEvents(pending);
  const engine = (await createEngine(memory, { clock: new ManualClock(lastMs + 1), config: { eventWeights: { ...DEFAULT_EVENT_WEIGHTS, ...eventWeights } } })) as OnlineEngine;
  let ndcg = 0, hr = 0;
  try {
    for (const [userId, target] of targetOf) {
      const r = await engine.recommend({ userId, surface: 'home', n: 10 });
      const k = r.items.findIndex((it) => it.itemId === target);
      if (k >= 0) {
        ndcg += 1 / Math.log2(k + 2);
        hr++;
      }
    }
  } finally {
    await engine.close();
  }
  return { ndcg: ndcg / Math.max(1, targetOf.size), hr: hr / Math.max(1, targetOf.size) };
}

/** Chooses the served blend's weights on held-out users and registers (and, if it passes the guard, activates) a `blend` version. */
export async function trainBlendFromStore(store: Store, registry: ModelRegistry, opts: BlendJobOptions = {}): Promise<BlendJobSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const eventWeights = opts.eventWeights ?? DEFAULT_EVENT_WEIGHTS;
  const data = await loadTrainingData(store, eventWeights);
  const itemIx = new Map<string, number>();
  data.itemIds.forEach((id, i) => itemIx.set(id, i));
  const N = data.itemIds.length;
  const members: LoadedMember[] = [];
  try {
    for (const name of MEMBERS) {
      const m = loadMember(registry, name, itemIx, N);
      if (m) members.push(m);
    }
    if (members.length === 0) throw new ValidationError('no learned model is active: train twotower or sasrec first', [{ path: 'models', message: 'none active' }]);
    let users: number[] = [];
    for (let u = 0; u < data.userIds.length; u++) if (data.validTargets[u] >= 0 && data.train.offsets[u + 1] > data.train.offsets[u]) users.push(u);
    // Bounded memory: the z matrices hold users × items floats per member (≤ 2e7 each).
    const maxUsers = Math.max(1, Math.min(opts.validUsers ?? 6_000, Math.floor(2e7 / Math.max(1, N))));
    if (users.length > maxUsers) {
      new Rng(opts.seed ?? 7).shuffle(users);
      users = users.slice(0, maxUsers).sort((a, b) => a - b);
    }
    if (users.length === 0) throw new ValidationError('no user has a held-out interaction to validate the blend on', [{ path: '--db', message: 'need users with 3+ positive steps' }]);
    log(`blend: scoring ${users.length} validation users with ${members.map((m) => `${m.name}@${m.version}`).join(', ')}`);

    // z[m]: [users, N] standardised member scores in the job's item space (0 where the member has no row).
    const U = users.length;
    const z = members.map(() => new Float32Array(U * N));
    const B = 64;
    for (let mi = 0; mi < members.length; mi++) {
      const m = members[mi];
      const hist = memberHistories(data, users, m);
      const buf = new Float32Array(B * m.numItems);
      for (let b0 = 0; b0 < U; b0 += B) {
        const ixs = new Int32Array(Math.min(B, U - b0)).map((_, k) => b0 + k);
        const out = buf.subarray(0, ixs.length * m.numItems);
        await m.rec.scoreBatch(hist, ixs, out);
        standardizeRows(out, ixs.length, m.numItems);
        for (let r = 0; r < ixs.length; r++) {
          const dst = z[mi].subarray((b0 + r) * N, (b0 + r + 1) * N);
          for (let i = 0; i < N; i++) {
            const row = m.itemToRow[i];
            const v = row >= 0 ? out[r * m.numItems + row] : 0;
            dst[i] = Number.isFinite(v) ? v : 0;
          }
        }
      }
    }

    // α grid: combined = (1 − α)·z[0] + α·z[1] (one member: α fixed).
    const G = members.length === 2 ? (opts.grid ?? 20) : 0;
    const sums = new Float64Array(G + 1), hits = new Float64Array(G + 1);
    const mix = new Float32Array(N);
    const stamp = new Int32Array(N).fill(-1);
    let mark = 0;
    for (let r = 0; r < U; r++) {
      const u = users[r];
      const hist = data.train.items.subarray(data.train.offsets[u], data.train.offsets[u + 1]);
      const target = data.validTargets[u];
      for (let g = 0; g <= G; g++) {
        const alpha = G === 0 ? 1 : g / G;
        const a0 = z[0].subarray(r * N, (r + 1) * N);
        if (members.length === 1) mix.set(a0);
        else {
          const a1 = z[1].subarray(r * N, (r + 1) * N);
          for (let i = 0; i < N; i++) mix[i] = (1 - alpha) * a0[i] + alpha * a1[i];
        }
        const rank = rankOf(mix, target, hist, stamp, mark++);
        if (rank < 10) {
          sums[g] += 1 / Math.log2(rank + 2);
          hits[g]++;
        }
      }
    }
    let best = 0;
    for (let g = 1; g <= G; g++) if (sums[g] > sums[best]) best = g;
    const alpha = G === 0 ? 1 : best / G;
    const weights = { sasrec: 0, twotower: 0 };
    if (members.length === 1) weights[members[0].name] = 1;
    else {
      weights[members[0].name] = Math.round((1 - alpha) * 1000) / 1000;
      weights[members[1].name] = Math.round(alpha * 1000) / 1000;
    }
    const validNdcg = sums[best] / U, validHr = hits[best] / U;
    log(`blend: weights ${JSON.stringify(weights)}, valid NDCG@10 ${validNdcg.toFixed(4)}; measuring the heuristic pipeline on the same users`);

    const heuristic = await heuristicValidation(store, data, users, eventWeights);
    const memberVersions = Object.fromEntries(members.map((m) => [m.name, m.version]));
    const trainSeconds = (performance.now() - t0) / 1000;
    const summary: BlendJobSummary = {
      model: 'blend',
      version: null,
      activated: false,
      weights,
      members: memberVersions,
      users: U,
      'valid.NDCG@10': validNdcg,
      'valid.HR@10': validHr,
      'heuristic.valid.NDCG@10': heuristic.ndcg,
      'heuristic.valid.HR@10': heuristic.hr,
      train_seconds: trainSeconds,
    };
    const version = registry.register('blend', {
      config: { weights, members: memberVersions, validUsers: U },
      metrics: { 'valid.NDCG@10': validNdcg, 'valid.HR@10': validHr, 'heuristic.valid.NDCG@10': heuristic.ndcg, 'heuristic.valid.HR@10': heuristic.hr, users: U, trainSeconds },
      weights: {},
    });
    summary.version = version;
    if (validNdcg < heuristic.ndcg) {
      summary.reason = `validation NDCG@10 ${validNdcg.toFixed(4)} is below the heuristic pipeline's ${heuristic.ndcg.toFixed(4)} on the same held-out users`;
      return summary;
    }
    try {
      registry.activate('blend', version);
      summary.activated = true;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      summary.reason = e.message;
    }
    summary.train_seconds = (performance.now() - t0) / 1000;
    return summary;
  } finally {
    for (const m of members) await m.rec.dispose?.();
  }
}
