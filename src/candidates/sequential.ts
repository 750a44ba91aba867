/**
 * Sequential next-item candidates: the active SASRec model (src/models/sasrec-serve.ts; Kang & McAuley,
 * "Self-Attentive Sequential Recommendation", ICDM 2018) reads the user's items in order and scores every
 * item as the one that comes next. Unlike co-occurrence, which sums pairwise neighbours of the seeds, it
 * conditions on the order of the whole session, so it answers "what follows this sequence".
 *
 * The request's sequence comes from a provider (the engine reads the online session, so an event ingested
 * a moment ago is already in it). Engine item ixs map to model rows through the artifact's item id list:
 * items the model never saw are neither inputs nor proposals, and model items the engine does not know
 * are skipped. Scores are the model's next-item probability exp(s − logZ) over its whole catalogue:
 * positive and comparable across requests, which the merger's blend and the explanations need.
 */
import type { UserHistory } from '../features/history.js';
import type { SasrecPredictor } from '../models/sasrec-serve.js';
import type { CandidateBuffer, CandidateContext, CandidateFilter, CandidateSource } from './types.js';

/**
 * Writes the request's item sequence (engine item ixs, oldest first, newest last) into out and returns
 * how many (≤ out.length, the newest kept).
 */
export type SequenceProvider = (ctx: CandidateContext, out: Int32Array) => number;

export class SequentialSource implements CandidateSource {
  readonly name = 'sasrec';
  private predictor: SasrecPredictor | undefined;
  private modelVersion = '';
  /** rowOfItem: [engine item ixs at load] model row or -1; itemOfRow: [model rows] engine item ix or -1. */
  private rowOfItem: Int32Array = new Int32Array(0);
  private itemOfRow: Int32Array = new Int32Array(0);
  /** seqItems: [maxLen] engine ixs from the provider; seqRows: [maxLen] the known ones as model rows. */
  private seqItems = new Int32Array(0);
  private seqRows = new Int32Array(0);
  /** outRows/outScores: [capacity] the predictor's top-k. */
  private readonly outRows: Int32Array;
  private readonly outScores: Float32Array;
  private filter: CandidateFilter | undefined;
  /** Bound once, so a request allocates no closure. */
  private readonly allowRow = (row: number): boolean => {
    const ix = this.itemOfRow[row];
    return ix >= 0 && this.filter!.allows(ix);
  };

  /** Does the loaded model know this engine item ix (can it be an input)? Bound once, for providers. */
  readonly knows = (itemIx: number): boolean => itemIx >= 0 && itemIx < this.rowOfItem.length && this.rowOfItem[itemIx] >= 0;

  constructor(
    readonly capacity: number,
    private readonly sequence: SequenceProvider,
  ) {
    this.outRows = new Int32Array(capacity);
    this.outScores = new Float32Array(capacity);
  }

  /**
   * Serves `predictor` from now on (undefined: propose nothing). itemOfRow: [predictor.numItems] the engine
   * item ix of each model row (-1: not in the engine). Returns the previous predictor for the caller to
   * dispose once no request uses it (requests run synchronously, so right away).
   */
  set(predictor: SasrecPredictor | undefined, itemOfRow: Int32Array, itemCount: number, version: string): SasrecPredictor | undefined {
    const old = this.predictor;
    if (!predictor) {
      this.predictor = undefined;
      this.modelVersion = '';
      return old;
    }
    if (itemOfRow.length !== predictor.numItems) {
      throw new RangeError(`sasrec item list has ${itemOfRow.length} ids for a model of ${predictor.numItems} items`);
    }
    const rowOf = new Int32Array(itemCount).fill(-1);
    for (let r = 0; r < itemOfRow.length; r++) {
      const ix = itemOfRow[r];
      if (ix >= 0 && ix < itemCount) rowOf[ix] = r;
    }
    this.rowOfItem = rowOf;
    this.itemOfRow = itemOfRow;
    this.seqItems = new Int32Array(predictor.maxLen);
    this.seqRows = new Int32Array(predictor.maxLen);
    this.predictor = predictor;
    this.modelVersion = version;
    return old;
  }

  get ready(): boolean {
    return this.predictor !== undefined;
  }

  /** The loaded predictor (undefined: none), for sources that combine its scores with others'. */
  get model(): SasrecPredictor | undefined {
    return this.predictor;
  }

  /** Model row of an engine item ix (-1: unknown to the model). */
  rowOf(itemIx: number): number {
    return itemIx >= 0 && itemIx < this.rowOfItem.length ? this.rowOfItem[itemIx] : -1;
  }

  /** Engine item ix of a model row (-1: not in the engine). */
  itemOf(row: number): number {
    return row >= 0 && row < this.itemOfRow.length ? this.itemOfRow[row] : -1;
  }

  /** The loaded model's version label (e.g. "sasrec@v3"), '' when none. */
  get version(): string {
    return this.modelVersion;
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    out.count = 0;
    const p = this.predictor;
    if (!p) return;
    const len = Math.min(this.sequence(ctx, this.seqItems), this.seqItems.length);
    let m = 0;
    for (let j = 0; j < len; j++) {
      const ix = this.seqItems[j];
      const row = ix >= 0 && ix < this.rowOfItem.length ? this.rowOfItem[ix] : -1;
      if (row >= 0) this.seqRows[m++] = row;
    }
    if (m === 0) return;
    const want = Math.min(n, out.capacity, this.capacity);
    this.filter = ctx.filter;
    const c = p.topK(this.seqRows, m, want, this.outRows, this.outScores, this.allowRow);
    this.filter = undefined;
    const logZ = p.logSumExp;
    for (let k = 0; k < c; k++) {
      out.items[k] = this.itemOfRow[this.outRows[k]];
      out.scores[k] = Math.exp(this.outScores[k] - logZ);
    }
    out.count = c;
  }
}

/**
 * The positive items of a history, oldest first, into out (the newest out.length): the current session
 * only when sessionOnly, else the whole ring. Consecutive positives on one item (play, complete, like)
 * count once, as in the training sequences (src/cli/commands/train.ts). Items `keep` rejects (e.g. ones
 * the model does not know) are left out. Returns the count.
 */
export function sequenceFromHistory(h: UserHistory | undefined, sessionOnly: boolean, out: Int32Array, keep?: (itemIx: number) => boolean): number {
  if (!h) return 0;
  const span = sessionOnly ? h.sessionLength : h.length;
  // Newest first into the tail of out, then moved to the front (oldest first).
  let start = out.length;
  for (let k = 0; k < span && start > 0; k++) {
    const s = h.slot(k);
    if (!(h.weights[s] > 0)) continue;
    const it = h.items[s];
    if (start < out.length && out[start] === it) continue;
    if (keep !== undefined && !keep(it)) continue;
    out[--start] = it;
  }
  const count = out.length - start;
  if (start > 0) out.copyWithin(0, start);
  return count;
}
