/**
 * Time-decayed counters per item (trending): value(t) = Σ_k w_k · 2^{-(t - t_k)/halfLife}.
 *
 * Stored with forward decay (Cormode, Shkapenyuk, Srivastava & Xu, "Forward Decay: A Practical Time
 * Decay Model for Streaming Systems", ICDE 2009): each slot keeps g = Σ w_k · 2^{(t_k - L)/halfLife}
 * for a shared landmark L, so an update is one multiply-add whatever the order events arrive in, and
 * the ordering of items by decayed value is the ordering by g — a top-n scan needs no exponentials.
 * value(t) = g · 2^{-(t - L)/halfLife}. The landmark moves forward (rescaling every slot once) before
 * the exponent could overflow a double.
 *
 * Numerical safety for any finite input: an update's exponent is at most REBASE_HALF_LIVES (a later event
 * moves the landmark to its own time first), so g stays far below the double range; the read side
 * evaluates at max(now, landmark), so the factor 2^{-(now - L)/halfLife} is in (0, 1] and no score can
 * become Infinity or NaN (0 · ∞) even when the landmark lies ahead of the clock. What an event far in the
 * future does to the *ranking* (it outweighs everything before it) is kept out upstream: ingest rejects
 * timestamps beyond the accepted window and the engine clamps replayed ones to the replay time.
 */
import { ensureLength } from './arrays.js';

/** Rebase once new events are this many half-lives past the landmark (2^400 ≈ 1e120, far from overflow). */
const REBASE_HALF_LIVES = 400;

export class DecayedCounters {
  /** g: [capacity] forward-decayed sums relative to the landmark. */
  private g = new Float64Array(1024);
  private landmarkMs: number;
  /** An upper bound of every key (running maximum; exact until negative updates lower a slot). */
  private maxKeySeen = 0;
  private readonly invHalfLife: number;
  /** Incremented whenever every key is rescaled (landmark moved): cached keys are stale then. */
  rebases = 0;

  constructor(readonly halfLifeMs: number, landmarkMs = 0) {
    if (!(halfLifeMs > 0) || !Number.isFinite(halfLifeMs)) throw new RangeError(`halfLifeMs must be a positive finite number, got ${halfLifeMs}`);
    this.invHalfLife = 1 / halfLifeMs;
    this.landmarkMs = landmarkMs;
  }

  /** Adds weight w observed at time tMs to slot ix. */
  add(ix: number, w: number, tMs: number): void {
    if (!Number.isFinite(w) || !Number.isFinite(tMs)) throw new RangeError(`counter update must be finite (w=${w}, t=${tMs})`);
    this.g = ensureLength(this.g, ix + 1);
    let e = (tMs - this.landmarkMs) * this.invHalfLife;
    if (e > REBASE_HALF_LIVES) {
      this.rebase(tMs);
      e = 0;
    }
    const g = (this.g[ix] += w * Math.pow(2, e));
    if (g > this.maxKeySeen) this.maxKeySeen = g;
  }

  /** Upper bound of key(ix) over all slots (for pruning scans). */
  get maxKey(): number {
    return this.maxKeySeen;
  }

  /** Decayed value of slot ix at time nowMs (at the landmark when nowMs is before it). */
  valueAt(ix: number, nowMs: number): number {
    if (ix >= this.g.length) return 0;
    return this.g[ix] * this.factorAt(nowMs);
  }

  /**
   * The factor turning a `rank` key into the value at nowMs (value = key · factor), in (0, 1]: a clock
   * behind the landmark reads the values at the landmark instead of amplifying them.
   */
  factorAt(nowMs: number): number {
    const dt = nowMs - this.landmarkMs;
    return dt > 0 ? Math.pow(2, -dt * this.invHalfLife) : Number.isNaN(dt) ? 0 : 1;
  }

  /** The landmark (ms): the time keys are relative to. */
  get landmark(): number {
    return this.landmarkMs;
  }

  /** A time-invariant ranking key: larger key ⇔ larger decayed value, at any common time. */
  key(ix: number): number {
    return ix < this.g.length ? this.g[ix] : 0;
  }

  /**
   * Takes over other's state (a rebuilt copy with the same half-life); other must not be used afterwards.
   * Counts as a rebase: cached keys are stale.
   */
  adopt(other: DecayedCounters): void {
    if (other.halfLifeMs !== this.halfLifeMs) throw new RangeError(`cannot adopt counters with half-life ${other.halfLifeMs} into ${this.halfLifeMs}`);
    this.g = other.g;
    this.landmarkMs = other.landmarkMs;
    this.maxKeySeen = other.maxKeySeen;
    this.rebases++;
  }

  /** Forgets slot ix (e.g. a deleted item). */
  reset(ix: number): void {
    if (ix < this.g.length) this.g[ix] = 0;
  }

  private rebase(newLandmarkMs: number): void {
    const f = Math.pow(2, (this.landmarkMs - newLandmarkMs) * this.invHalfLife);
    for (let i = 0; i < this.g.length; i++) this.g[i] *= f;
    this.maxKeySeen *= f;
    this.landmarkMs = newLandmarkMs;
    this.rebases++;
  }
}
