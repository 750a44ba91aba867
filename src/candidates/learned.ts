/**
 * The learned blend: the served twin of the offline `blend` model (src/models/blend.ts). Each member
 * scores the user's whole history — SASRec's next-item logits over its newest ≤ maxLen items (Kang &
 * McAuley 2018) and the two-tower user tower's u·v_i (Yi et al. 2019) — each member's scores are
 * standardised over the whole catalogue for this user (z = (s − mean)/std, the offline blend's
 * standardisation), and the page is ranked by Σ_m w_m·z_m with the weights the trainer chose on held-out
 * interactions (`blend` versions in the registry). This is the number the offline evaluation measures,
 * now on the served path.
 *
 * Exactness: SASRec scores every item anyway (one matvec), so its z-scores are exact; the two-tower's
 * mean/std come from the item vectors' moments (TwoTowerUserEncoder.scoreMoments) and its candidates from
 * an exact scan for catalogues up to EXACT_SCAN_ROWS rows, the ANN index beyond. Candidates are the union
 * of each member's top K (K = 2n + 50), every one scored exactly by both members; an item one member does
 * not know gets z = 0 from it (the catalogue average). Output scores are exp(c − c_best) ∈ (0, 1]:
 * order-preserving and positive, as the merger's normalisation by the best score expects.
 */
import { TopK } from '../core/topk.js';
import type { UserHistory } from '../features/history.js';
import type { TwoTowerUserEncoder } from '../models/twotower-serve.js';
import type { EmbeddingSource } from './embedding.js';
import { sequenceFromHistory, type SequentialSource } from './sequential.js';
import type { CandidateBuffer, CandidateContext, CandidateSource } from './types.js';

/** Two-tower catalogues up to this many rows are scanned exactly (64 dims: ~6 M multiply-adds). */
const EXACT_SCAN_ROWS = 100_000;
/** Most candidates per member (the merger asks for at most 2·maxN). */
const MAX_K = 4_096;
/** Longest history read (SASRec's maxLen is at most this; the two-tower reads its own historyLen). */
const MAX_SEQ = 1_000;

export interface BlendWeights {
  sasrec: number;
  twotower: number;
}

export class LearnedBlendSource implements CandidateSource {
  readonly name = 'blend';
  private weights: BlendWeights = { sasrec: 0, twotower: 0 };
  private blendVersion = '';
  private encoder: TwoTowerUserEncoder | undefined;
  /** seqItems: [MAX_SEQ] engine ixs of the history; seqRows: [MAX_SEQ] the same as one member's rows. */
  private readonly seqItems = new Int32Array(MAX_SEQ);
  private readonly seqRows = new Int32Array(MAX_SEQ);
  /** outRows/outScores: [MAX_K] a member's top K. */
  private readonly outRows = new Int32Array(MAX_K);
  private readonly outScores = new Float32Array(MAX_K);
  /** union: [2·MAX_K] engine ixs proposed by any member in this call; stamp dedupes them. */
  private readonly union = new Int32Array(2 * MAX_K);
  private stamp = new Uint32Array(1024);
  private epoch = 0;
  private unionCount = 0;
  private readonly twotowerKnows = (ix: number): boolean => this.twotower.rowOf(ix) >= 0;
  /** u: [dim] the user vector of this call. */
  private u = new Float32Array(0);
  private readonly scanTop = new TopK(MAX_K);
  private readonly pageTop = new TopK(MAX_K);
  private filterRef: CandidateContext['filter'] | undefined;
  private readonly allowSasrecRow = (row: number): boolean => {
    const ix = this.sequential.itemOf(row);
    return ix >= 0 && this.filterRef!.allows(ix);
  };

  constructor(
    readonly capacity: number,
    private readonly sequential: SequentialSource,
    private readonly twotower: EmbeddingSource,
    private readonly history: () => UserHistory | undefined,
  ) {}

  /** Mixing weights (from a `blend` registry version) and its label; weights ≤ 0 switch a member off. */
  setWeights(weights: BlendWeights, version: string): void {
    if (!(Number.isFinite(weights.sasrec) && Number.isFinite(weights.twotower))) throw new RangeError('blend weights must be finite');
    this.weights = { sasrec: Math.max(0, weights.sasrec), twotower: Math.max(0, weights.twotower) };
    this.blendVersion = version;
  }

  /** The two-tower user tower (rows aligned with the twotower source's vectors); undefined: off. */
  setUserTower(encoder: TwoTowerUserEncoder | undefined): void {
    this.encoder = encoder;
    this.u = new Float32Array(encoder?.dim ?? 0);
  }

  get version(): string {
    return this.blendVersion;
  }

  private get sasrecOn(): boolean {
    return this.weights.sasrec > 0 && this.sequential.ready;
  }

  private get twotowerOn(): boolean {
    return this.weights.twotower > 0 && this.encoder !== undefined && this.twotower.ready && this.twotower.rows === this.encoder.numItems;
  }

  /** Serving: a blend version is loaded and at least one of its members is. */
  get ready(): boolean {
    return this.blendVersion !== '' && (this.sasrecOn || this.twotowerOn);
  }

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    out.count = 0;
    if (!this.ready) return;
    const h = this.history();
    if (!h) return;
    const want = Math.min(n, out.capacity, this.capacity, MAX_K);
    const K = Math.min(MAX_K, 2 * want + 50);
    if (++this.epoch === 0xffffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    this.unionCount = 0;
    this.filterRef = ctx.filter;

    // SASRec: top K after the history (its known items, newest maxLen), and the moments of all its scores.
    let sMean = 0, sInv = 0;
    const predictor = this.sasrecOn ? this.sequential.model : undefined;
    if (predictor) {
      const len = sequenceFromHistory(h, false, this.seqItems.subarray(0, Math.min(MAX_SEQ, predictor.maxLen)), this.sequential.knows);
      for (let j = 0; j < len; j++) this.seqRows[j] = this.sequential.rowOf(this.seqItems[j]);
      const c = len > 0 ? predictor.topK(this.seqRows, len, K, this.outRows, this.outScores, this.allowSasrecRow) : 0;
      if (c > 0 && predictor.scoreStd > 0) {
        sMean = predictor.scoreMean;
        sInv = 1 / predictor.scoreStd;
        for (let k = 0; k < c; k++) this.add(this.sequential.itemOf(this.outRows[k]));
      }
    }

    // Two-tower: the user vector over its newest historyLen known items; exact scan or ANN for the top K.
    let tMean = 0, tInv = 0;
    const enc = this.twotowerOn ? this.encoder : undefined;
    if (enc) {
      const len = sequenceFromHistory(h, false, this.seqItems.subarray(0, Math.min(MAX_SEQ, enc.historyLen)), this.twotowerKnows);
      for (let j = 0; j < len; j++) this.seqRows[j] = this.twotower.rowOf(this.seqItems[j]);
      if (len > 0 && enc.encode(this.seqRows, len, this.u)) {
        const m = enc.scoreMoments(this.u);
        if (m.std > 0) {
          tMean = m.mean;
          tInv = 1 / m.std;
          this.twotowerTop(ctx, K);
        }
      }
    }
    this.filterRef = undefined;
    const count = this.unionCount;
    if (count === 0) return;

    // Every candidate scored by both members: Σ w·z (a member that does not know an item gives it z = 0).
    const top = this.pageTop;
    top.reset(want);
    const ws = sInv > 0 ? this.weights.sasrec : 0;
    const wt = tInv > 0 ? this.weights.twotower : 0;
    for (let k = 0; k < count; k++) {
      const ix = this.union[k];
      let c = 0;
      if (ws > 0) {
        const s = predictor!.scoreOf(this.sequential.rowOf(ix));
        if (Number.isFinite(s)) c += ws * (s - sMean) * sInv;
      }
      if (wt > 0) {
        const row = this.twotower.rowOf(ix);
        if (row >= 0) c += wt * (this.dot(row) - tMean) * tInv;
      }
      if (Number.isFinite(c)) top.push(ix, c);
    }
    const got = top.drain(out.items, out.scores);
    const best = got > 0 ? out.scores[0] : 0;
    for (let k = 0; k < got; k++) out.scores[k] = Math.exp(out.scores[k] - best);
    out.count = got;
  }

  /** Adds an engine ix to this call's candidate union (once). */
  private add(ix: number): void {
    if (ix < 0) return;
    if (ix >= this.stamp.length) {
      const grown = new Uint32Array(Math.max(ix + 1, this.stamp.length * 2));
      grown.set(this.stamp);
      this.stamp = grown;
    }
    if (this.stamp[ix] === this.epoch || this.unionCount >= this.union.length) return;
    this.stamp[ix] = this.epoch;
    this.union[this.unionCount++] = ix;
  }

  /** u · v_row over the two-tower item vectors. */
  private dot(row: number): number {
    const { dim, data } = this.twotower.matrix;
    const o = row * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += this.u[d] * data[o + d];
    return s;
  }

  /** The two-tower's best K allowed items for u into the union (exact scan, or ANN on large catalogues). */
  private twotowerTop(ctx: CandidateContext, K: number): void {
    const rows = this.twotower.rows;
    if (rows <= EXACT_SCAN_ROWS) {
      const top = this.scanTop;
      top.reset(K);
      for (let r = 0; r < rows; r++) {
        const s = this.dot(r);
        if (!(s > top.threshold)) continue;
        const ix = this.twotower.itemOf(r);
        if (ix < 0 || !ctx.filter.allows(ix)) continue;
        top.push(r, s);
      }
      const c = top.drain(this.outRows, this.outScores);
      for (let k = 0; k < c; k++) this.add(this.twotower.itemOf(this.outRows[k]));
      return;
    }
    const res = this.twotower.nearest(this.u, Math.min(MAX_K, K + 50));
    if (!res) return;
    for (let k = 0, c = 0; k < res.k && c < K; k++) {
      const ix = this.twotower.itemOf(res.ixs[k]);
      if (ix < 0 || !ctx.filter.allows(ix)) continue;
      this.add(ix);
      c++;
    }
  }
}
