/**
 * Offline evaluation splits. A split turns a dataset into what a model is fitted on (`train` +
 * `validTargets`, exactly a FitContext's fields) and what it is tested on (a history per user and the
 * held-out targets). The test split is built here once and only `evaluate` reads it.
 *
 * - `loo-full` (leave-one-out, full ranking; Kang & McAuley 2018, Sun et al. 2019 but without sampled
 *   negatives, as argued by Krichene & Rendle 2020): for every user with ≥ 3 interactions the last item
 *   is the test target, the second last the validation target, the rest is train. The test query's
 *   history is train + the validation item. Users with fewer than 3 interactions keep all of them in
 *   train (they help fitting) and are neither validated nor tested.
 * - `temporal`: one global cut time (default: the 90th percentile of all timestamps). Each user's
 *   interactions before the cut are history; the distinct items after the cut that the user had not
 *   already consumed before it are the targets. Only users with history before the cut and at least one
 *   target are tested. Inside the history, the last item is held out as the validation target (users
 *   with ≥ 2 history items), so hyper-parameters never see the future. Datasets without timestamps
 *   are rejected with a ValidationError.
 * - `loo-sampled100` is the `loo-full` split; evaluate adds, as extra `sampled100_*` columns, the rank
 *   among 100 sampled non-interacted items. It is there for comparison with older papers only.
 */
import { z } from 'zod';
import type { InteractionDataset, Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';

export const ProtocolName = z.enum(['loo-full', 'temporal', 'loo-sampled100']);
export type ProtocolName = z.infer<typeof ProtocolName>;

export interface EvalSplit {
  protocol: ProtocolName;
  /** Fitting input: the FitContext's `train`. */
  train: Sequences;
  /** [numUsers] validation target per user or -1 (FitContext.validTargets). */
  validTargets: Int32Array;
  /** The history each test query conditions on (and whose items are masked): train + validation item. */
  testHistory: Sequences;
  /** [T] users that are tested, ascending. */
  testUsers: Int32Array;
  /** [T + 1] offsets into testTargets: user testUsers[t]'s targets are testTargets[off[t] .. off[t+1]). */
  testTargetOffsets: Int32Array;
  /** Distinct target items of every tested user. */
  testTargets: Int32Array;
  /** Users that had too little data to be tested (kept in train). */
  skippedUsers: number;
  /** temporal only: the cut in ms since the epoch. */
  cutMs?: number;
}

/** Minimum interactions for a user to be tested under leave-one-out. */
export const LOO_MIN_ITEMS = 3;

export interface SplitOptions {
  /** temporal: cut quantile in (0, 1) of all timestamps (default 0.9). */
  cutQuantile?: number;
  /** temporal: explicit cut time in ms (overrides cutQuantile). */
  cutMs?: number;
}

export function split(ds: InteractionDataset, protocol: ProtocolName, opts: SplitOptions = {}): EvalSplit {
  switch (protocol) {
    case 'loo-full':
    case 'loo-sampled100':
      return { ...splitLeaveOneOut(ds.seqs), protocol };
    case 'temporal':
      return splitTemporal(ds, opts);
  }
}

export function splitLeaveOneOut(seqs: Sequences): EvalSplit {
  const { numUsers, numItems, offsets, items } = seqs;
  const trainOffsets = new Int32Array(numUsers + 1);
  const histOffsets = new Int32Array(numUsers + 1);
  const validTargets = new Int32Array(numUsers).fill(-1);
  let tested = 0;
  for (let u = 0; u < numUsers; u++) {
    const len = offsets[u + 1] - offsets[u];
    const isTested = len >= LOO_MIN_ITEMS;
    if (isTested) tested++;
    trainOffsets[u + 1] = trainOffsets[u] + (isTested ? len - 2 : len);
    histOffsets[u + 1] = histOffsets[u] + (isTested ? len - 1 : len);
  }
  const trainItems = new Int32Array(trainOffsets[numUsers]);
  const histItems = new Int32Array(histOffsets[numUsers]);
  const testUsers = new Int32Array(tested);
  const testTargets = new Int32Array(tested);
  const testTargetOffsets = new Int32Array(tested + 1);
  let t = 0;
  for (let u = 0; u < numUsers; u++) {
    const start = offsets[u];
    const len = offsets[u + 1] - start;
    const trainLen = trainOffsets[u + 1] - trainOffsets[u];
    trainItems.set(items.subarray(start, start + trainLen), trainOffsets[u]);
    histItems.set(items.subarray(start, start + histOffsets[u + 1] - histOffsets[u]), histOffsets[u]);
    if (len >= LOO_MIN_ITEMS) {
      validTargets[u] = items[start + len - 2];
      testUsers[t] = u;
      testTargets[t] = items[start + len - 1];
      testTargetOffsets[t + 1] = t + 1;
      t++;
    }
  }
  return {
    protocol: 'loo-full',
    train: { numUsers, numItems, offsets: trainOffsets, items: trainItems },
    validTargets,
    testHistory: { numUsers, numItems, offsets: histOffsets, items: histItems },
    testUsers,
    testTargetOffsets,
    testTargets,
    skippedUsers: numUsers - tested,
  };
}

export function splitTemporal(ds: InteractionDataset, opts: SplitOptions = {}): EvalSplit {
  const ts = ds.timestampsMs;
  const { numUsers, numItems, offsets, items } = ds.seqs;
  if (!ts) {
    throw new ValidationError(`dataset '${ds.name}' has no timestamps; the temporal protocol needs them`, [
      { path: 'protocol', message: 'use loo-full for datasets without timestamps' },
    ]);
  }
  if (ts.length !== items.length) throw new ValidationError('timestampsMs length differs from interactions');
  const q = opts.cutQuantile ?? 0.9;
  if (opts.cutMs === undefined && !(q > 0 && q < 1)) {
    throw new ValidationError(`cut quantile ${q} is not in (0, 1)`, [{ path: 'cut', message: 'must be in (0, 1)' }]);
  }
  const cutMs = opts.cutMs ?? quantile(ts, q);

  // History = interactions strictly before the cut (each user's are sorted by time).
  const histOffsets = new Int32Array(numUsers + 1);
  for (let u = 0; u < numUsers; u++) {
    let n = 0;
    for (let p = offsets[u]; p < offsets[u + 1]; p++) if (ts[p] < cutMs) n++;
    histOffsets[u + 1] = histOffsets[u] + n;
  }
  const histItems = new Int32Array(histOffsets[numUsers]);
  const trainOffsets = new Int32Array(numUsers + 1);
  const validTargets = new Int32Array(numUsers).fill(-1);
  // seen: [numItems] stamp of the last user whose history contains the item (no per-user Set).
  const seen = new Int32Array(numItems).fill(-1);
  const testUsersBuf: number[] = [];
  const targetOffsetsBuf: number[] = [0];
  const targetsBuf: number[] = [];
  let skipped = 0;
  for (let u = 0; u < numUsers; u++) {
    let w = histOffsets[u];
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      if (ts[p] < cutMs) {
        histItems[w++] = items[p];
        seen[items[p]] = u;
      }
    }
    const histLen = histOffsets[u + 1] - histOffsets[u];
    const holdValid = histLen >= 2;
    if (holdValid) validTargets[u] = histItems[histOffsets[u + 1] - 1];
    trainOffsets[u + 1] = trainOffsets[u] + (holdValid ? histLen - 1 : histLen);
    const before = targetsBuf.length;
    if (histLen > 0) {
      for (let p = offsets[u]; p < offsets[u + 1]; p++) {
        const it = items[p];
        if (ts[p] >= cutMs && seen[it] !== u) {
          seen[it] = u; // also dedupes repeated future items
          targetsBuf.push(it);
        }
      }
    }
    if (targetsBuf.length > before) {
      testUsersBuf.push(u);
      targetOffsetsBuf.push(targetsBuf.length);
    } else {
      skipped++;
    }
  }
  const trainItems = new Int32Array(trainOffsets[numUsers]);
  for (let u = 0; u < numUsers; u++) {
    const n = trainOffsets[u + 1] - trainOffsets[u];
    trainItems.set(histItems.subarray(histOffsets[u], histOffsets[u] + n), trainOffsets[u]);
  }
  return {
    protocol: 'temporal',
    train: { numUsers, numItems, offsets: trainOffsets, items: trainItems },
    validTargets,
    testHistory: { numUsers, numItems, offsets: histOffsets, items: histItems },
    testUsers: Int32Array.from(testUsersBuf),
    testTargetOffsets: Int32Array.from(targetOffsetsBuf),
    testTargets: Int32Array.from(targetsBuf),
    skippedUsers: skipped,
    cutMs,
  };
}

/** Nearest-rank quantile: the smallest value with at least q of the values ≤ it. */
export function quantile(values: Float64Array, q: number): number {
  if (values.length === 0) throw new ValidationError('no timestamps to cut');
  const sorted = Float64Array.from(values).sort();
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}
