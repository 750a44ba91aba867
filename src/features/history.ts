/**
 * Per-user online history: a ring of the last N interactions (item ix, time, event weight), the current
 * session, the set of consumed items (bounded, oldest forgotten first) and the set of items the user gave
 * hard negative feedback on. Every update is O(1) amortised; a ring starts small on a user's first event and
 * doubles up to the configured size, so a long ring (the sequence models read up to 200 items) costs
 * memory only for users who have that much history.
 */

/** First ring capacity (doubles up to HistoryConfig.size). */
const INITIAL_RING = 16;

export interface HistoryConfig {
  /** Ring capacity per user. */
  size: number;
  /** Without client session ids, a gap longer than this starts a new session. */
  sessionGapMs: number;
  /** Consumed-item memory per user (for exclusion); beyond it the oldest are forgotten. */
  maxConsumed: number;
  /** Events with weight ≤ this are hard negatives (dislike, block): excluded from every surface. */
  hardNegativeWeight: number;
}

export class UserHistory {
  /** items: [size] item ixs, ring order (read through slot(); the arrays are replaced when the ring grows). */
  items: Int32Array;
  /** tsMs: [size] event times. */
  tsMs: Float64Array;
  /** weights: [size] event weights (negative = negative feedback). */
  weights: Float32Array;
  /** Current ring capacity (≤ maxSize); grows by doubling until the ring first wraps. */
  size: number;
  /** Total interactions ever pushed; ring slot of the k-th is k % size. */
  total = 0;
  /** `total` when the current session started. */
  sessionStart = 0;
  sessionKey: string | undefined = undefined;
  lastMs = -Infinity;
  /** Time of the earliest interaction seen (tenure). */
  firstMs = Infinity;
  readonly consumed = new Set<number>();
  readonly negative = new Set<number>();
  /** Creator ixs the user blocked (block events): none of their items is served to the user. */
  readonly blockedCreators = new Set<number>();
  /** Creator ixs the user follows (follow events; a follow lifts a block). */
  readonly followedCreators = new Set<number>();

  constructor(readonly maxSize: number) {
    this.size = Math.min(maxSize, INITIAL_RING);
    this.items = new Int32Array(this.size);
    this.tsMs = new Float64Array(this.size);
    this.weights = new Float32Array(this.size);
  }

  /**
   * Makes room for one more entry: while the ring has never wrapped (total === size), entry p sits in slot
   * p, so doubling the arrays keeps every slot where it is.
   */
  reserve(): void {
    if (this.total !== this.size || this.size >= this.maxSize) return;
    const size = Math.min(this.maxSize, this.size * 2);
    const items = new Int32Array(size), tsMs = new Float64Array(size), weights = new Float32Array(size);
    items.set(this.items);
    tsMs.set(this.tsMs);
    weights.set(this.weights);
    this.items = items;
    this.tsMs = tsMs;
    this.weights = weights;
    this.size = size;
  }

  /** Number of entries held (≤ size). */
  get length(): number {
    return Math.min(this.total, this.size);
  }

  /** Ring slot of the k-th newest entry (k = 0 is the newest). Caller keeps k < length. */
  slot(k: number): number {
    return (this.total - 1 - k) % this.size;
  }

  /** Entries (newest first) that belong to the current session. */
  get sessionLength(): number {
    return Math.min(this.total - this.sessionStart, this.size);
  }
}

export class UserHistories {
  private byUser: (UserHistory | undefined)[] = [];

  constructor(readonly config: HistoryConfig) {
    if (!(config.size >= 1 && config.size <= 10_000)) throw new RangeError(`history size must be in 1..10000, got ${config.size}`);
  }

  get(userIx: number): UserHistory | undefined {
    return this.byUser[userIx];
  }

  /** Would an event with this session key / time start a new session for the user? */
  private isNewSession(h: UserHistory, sessionKey: string | undefined, tMs: number): boolean {
    if (h.total === 0) return true;
    if (sessionKey !== undefined) return sessionKey !== h.sessionKey;
    return h.sessionKey !== undefined || tMs - h.lastMs > this.config.sessionGapMs;
  }

  /**
   * Collects into `out` the distinct item ixs with positive weight the user interacted with earlier in the
   * same session as an event at (sessionKey, tMs), newest first, at most out.length and within windowMs.
   * Returns the count, or -1 when `itemIx` itself is among them (a repeat, not a new co-occurrence).
   */
  sessionWindow(userIx: number, itemIx: number, sessionKey: string | undefined, tMs: number, windowMs: number, out: Int32Array): number {
    const h = this.byUser[userIx];
    if (!h || this.isNewSession(h, sessionKey, tMs)) return 0;
    let n = 0;
    const inSession = h.sessionLength;
    for (let k = 0; k < inSession && n < out.length; k++) {
      const s = h.slot(k);
      if (h.tsMs[s] < tMs - windowMs) break;
      if (h.weights[s] <= 0) continue;
      const it = h.items[s];
      if (it === itemIx) return -1;
      let dup = false;
      for (let j = 0; j < n; j++) if (out[j] === it) dup = true;
      if (!dup) out[n++] = it;
    }
    return n;
  }

  /** Records an interaction (weight ≠ 0). */
  push(userIx: number, itemIx: number, weight: number, tMs: number, sessionKey: string | undefined): void {
    let h = this.byUser[userIx];
    if (!h) h = this.byUser[userIx] = new UserHistory(this.config.size);
    if (this.isNewSession(h, sessionKey, tMs)) {
      h.sessionStart = h.total;
      h.sessionKey = sessionKey;
    }
    h.reserve();
    const s = h.total % h.size;
    h.items[s] = itemIx;
    h.tsMs[s] = tMs;
    h.weights[s] = weight;
    h.total++;
    if (tMs > h.lastMs) h.lastMs = tMs;
    if (tMs < h.firstMs) h.firstMs = tMs;

    if (h.consumed.has(itemIx)) h.consumed.delete(itemIx); // re-insert: most recent last
    h.consumed.add(itemIx);
    if (h.consumed.size > this.config.maxConsumed) {
      const oldest = h.consumed.values().next().value as number;
      h.consumed.delete(oldest);
    }
    if (weight <= this.config.hardNegativeWeight) h.negative.add(itemIx);
    else if (weight > 0) h.negative.delete(itemIx);
  }

  /** Records a creator-level action: 'block' blocks the creator, 'follow' follows (and unblocks) it. */
  creatorAction(userIx: number, creatorIx: number, action: 'block' | 'follow'): void {
    if (creatorIx < 0) return;
    let h = this.byUser[userIx];
    if (!h) h = this.byUser[userIx] = new UserHistory(this.config.size);
    if (action === 'block') {
      h.blockedCreators.add(creatorIx);
      h.followedCreators.delete(creatorIx);
    } else {
      h.followedCreators.add(creatorIx);
      h.blockedCreators.delete(creatorIx);
    }
  }

  /** Forgets a user's history (user deleted). */
  /** Takes over other's histories (a rebuilt copy); other must not be used afterwards. */
  adopt(other: UserHistories): void {
    this.byUser = other.byUser;
  }

  clear(userIx: number): void {
    this.byUser[userIx] = undefined;
  }
}
