/**
 * Ranking and beyond-accuracy metrics for offline evaluation, written as small kernels over typed
 * arrays so `evaluate` can run them over [B, numItems] score blocks without allocating per user.
 *
 * Ranks are 0-based and PESSIMISTIC: the rank of a target is the number of candidate items, other than
 * the target itself, whose score is >= the target's score. A tie with the target therefore counts
 * against it: a model that scores everything equally ranks every target last, not first (optimistic or
 * random tie-breaking rewards degenerate models; see Krichene & Rendle 2020 on evaluation pitfalls).
 * Masked items (the user's history) carry -Infinity and so never outrank a finite target. A NaN target
 * score gets the worst rank.
 *
 * Accuracy (per query, then averaged over tested users), with ranks r of the query's targets T:
 * - HR@k       1 if any target has r < k.
 * - Recall@k   |{t : r_t < k}| / |T|  (equals HR@k for leave-one-out).
 * - NDCG@k     Σ_{r_t<k} 1/log2(r_t+2) / Σ_{i<min(k,|T|)} 1/log2(i+2). With several targets each one's
 *              rank counts the other targets above it, so r is its position in the list.
 * - MRR        1/(min_t r_t + 1), not cut at k.
 * Beyond accuracy, over the top-k lists of all tested users (ties in the lists broken by lower item index):
 * - coverage@k   distinct recommended items / numItems.
 * - novelty@k    mean self-information −log2 p(i) of recommended items, p(i) = (c_i + 1)/(N + numItems)
 *                from train counts c (add-one smoothing so items unseen in train stay finite).
 * - diversity@k  intra-list diversity: 1 − mean pairwise similarity within a list, averaged over lists.
 *                Similarity is the Jaccard index of tag sets (pairs where either item has no tags are
 *                skipped) or the cosine of item embeddings when given.
 * - gini         Gini coefficient of exposure counts (how often each item / creator appears in the lists),
 *                over all items (or all creators), zero-exposure ones included: 0 = equal, → 1 = concentrated.
 */

/** Rank of a single target: items j ≠ target with row[j] >= row[target]. row: [numItems] at rowOffset. */
export function singleTargetRank(row: Float32Array, rowOffset: number, numItems: number, target: number): number {
  const ts = row[rowOffset + target];
  if (Number.isNaN(ts)) return numItems - 1;
  let count = 0;
  const end = rowOffset + numItems;
  for (let j = rowOffset; j < end; j++) if (row[j] >= ts) count++;
  return count - 1; // the target itself
}

/**
 * Ranks of several targets in one pass over the row (targets must be distinct and unmasked).
 * sortedScratch: [≥ T] Float64 scratch; countScratch: [≥ T + 1] Int32 scratch; outRanks: [≥ T], written
 * in ascending rank order.
 */
export function multiTargetRanks(
  row: Float32Array,
  rowOffset: number,
  numItems: number,
  targets: Int32Array,
  tStart: number,
  tEnd: number,
  sortedScratch: Float64Array,
  countScratch: Int32Array,
  outRanks: Int32Array,
): number {
  const T = tEnd - tStart;
  if (T === 1) {
    outRanks[0] = singleTargetRank(row, rowOffset, numItems, targets[tStart]);
    return 1;
  }
  // Target scores ascending; NaN sorts last in typed-array sort and is ranked worst below.
  const sorted = sortedScratch.subarray(0, T);
  for (let t = 0; t < T; t++) sorted[t] = row[rowOffset + targets[tStart + t]];
  sorted.sort();
  let finite = T;
  while (finite > 0 && Number.isNaN(sorted[finite - 1])) finite--;
  const cnt = countScratch.subarray(0, finite + 1);
  cnt.fill(0);
  // Item j (targets included) adds 1 to every target whose score is <= row[j]: the first ub sorted ones.
  const end = rowOffset + numItems;
  const lowest = finite > 0 ? sorted[0] : Infinity;
  for (let j = rowOffset; j < end; j++) {
    const s = row[j];
    if (!(s >= lowest)) continue;
    let lo = 0;
    let hi = finite;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= s) lo = mid + 1;
      else hi = mid;
    }
    cnt[lo]++;
  }
  // rank of sorted target i = Σ_{u > i} cnt[u] − 1 (itself); highest score first → ascending ranks.
  let acc = 0;
  let w = 0;
  for (let i = finite - 1; i >= 0; i--) {
    acc += cnt[i + 1];
    outRanks[w++] = acc - 1;
  }
  for (let i = finite; i < T; i++) outRanks[w++] = numItems - 1;
  return T;
}

/** HR@k for ranks [0, n) of one query. */
export function hitAt(ranks: ArrayLike<number>, n: number, k: number): number {
  for (let i = 0; i < n; i++) if (ranks[i] < k) return 1;
  return 0;
}

export function recallAt(ranks: ArrayLike<number>, n: number, k: number): number {
  if (n === 0) return 0;
  let hits = 0;
  for (let i = 0; i < n; i++) if (ranks[i] < k) hits++;
  return hits / n;
}

export function ndcgAt(ranks: ArrayLike<number>, n: number, k: number): number {
  if (n === 0) return 0;
  let dcg = 0;
  for (let i = 0; i < n; i++) if (ranks[i] < k) dcg += 1 / Math.log2(ranks[i] + 2);
  let idcg = 0;
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) idcg += 1 / Math.log2(i + 2);
  return dcg / idcg;
}

export function reciprocalRank(ranks: ArrayLike<number>, n: number): number {
  let best = Infinity;
  for (let i = 0; i < n; i++) if (ranks[i] < best) best = ranks[i];
  return n === 0 ? 0 : 1 / (best + 1);
}

/** Distinct items with nonzero exposure / numItems. */
export function coverage(exposure: Int32Array | Float64Array): number {
  if (exposure.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < exposure.length; i++) if (exposure[i] > 0) n++;
  return n / exposure.length;
}

/** Per-item self-information −log2 p(i), p(i) = (c_i + 1) / (Σc + numItems). */
export function selfInformation(trainCounts: Int32Array | Float64Array): Float64Array {
  let total = 0;
  for (let i = 0; i < trainCounts.length; i++) total += trainCounts[i];
  const out = new Float64Array(trainCounts.length);
  const denom = total + trainCounts.length;
  for (let i = 0; i < trainCounts.length; i++) out[i] = -Math.log2((trainCounts[i] + 1) / denom);
  return out;
}

/** Interaction counts per item. */
export function itemCounts(items: Int32Array, numItems: number): Int32Array {
  const c = new Int32Array(numItems);
  for (let p = 0; p < items.length; p++) c[items[p]]++;
  return c;
}

/** Item tags in CSR form with integer tag ids sorted per item (for allocation-free Jaccard). */
export interface TagIndex {
  offsets: Int32Array;
  tagIds: Int32Array;
}

export function buildTagIndex(tags: string[][]): TagIndex {
  const ids = new Map<string, number>();
  const offsets = new Int32Array(tags.length + 1);
  const flat: number[] = [];
  for (let i = 0; i < tags.length; i++) {
    const own = new Set<number>();
    for (const t of tags[i] ?? []) {
      let id = ids.get(t);
      if (id === undefined) ids.set(t, (id = ids.size));
      own.add(id);
    }
    const sorted = [...own].sort((a, b) => a - b);
    flat.push(...sorted);
    offsets[i + 1] = flat.length;
  }
  return { offsets, tagIds: Int32Array.from(flat) };
}

/** Jaccard index of two items' tag sets, or NaN when either has none. */
export function tagJaccard(tags: TagIndex, a: number, b: number): number {
  const { offsets, tagIds } = tags;
  let i = offsets[a];
  const ie = offsets[a + 1];
  let j = offsets[b];
  const je = offsets[b + 1];
  const na = ie - i;
  const nb = je - j;
  if (na === 0 || nb === 0) return NaN;
  let inter = 0;
  while (i < ie && j < je) {
    if (tagIds[i] === tagIds[j]) {
      inter++;
      i++;
      j++;
    } else if (tagIds[i] < tagIds[j]) i++;
    else j++;
  }
  return inter / (na + nb - inter);
}

/** Cosine of two rows of an embedding matrix emb: [numItems, dim]; NaN if either is all zero. */
export function embeddingCosine(emb: Float32Array, dim: number, a: number, b: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let d = 0; d < dim; d++) {
    const x = emb[oa + d];
    const y = emb[ob + d];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return NaN;
  return dot / Math.sqrt(na * nb);
}

export type ItemSimilarity = { kind: 'tags'; tags: TagIndex } | { kind: 'embeddings'; emb: Float32Array; dim: number };

/** 1 − mean pairwise similarity of list[offset .. offset+len); NaN when no pair is defined. */
export function intraListDiversity(list: Int32Array, offset: number, len: number, sim: ItemSimilarity): number {
  let sum = 0;
  let pairs = 0;
  for (let x = 0; x < len; x++) {
    for (let y = x + 1; y < len; y++) {
      const a = list[offset + x];
      const b = list[offset + y];
      const s = sim.kind === 'tags' ? tagJaccard(sim.tags, a, b) : embeddingCosine(sim.emb, sim.dim, a, b);
      if (Number.isNaN(s)) continue;
      sum += s;
      pairs++;
    }
  }
  return pairs === 0 ? NaN : 1 - sum / pairs;
}

/** Gini coefficient of non-negative values (0 when all are equal or all zero). */
export function gini(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return 0;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    if (sorted[i] < 0) throw new RangeError('gini needs non-negative values');
    total += sorted[i];
    weighted += (2 * (i + 1) - n - 1) * sorted[i];
  }
  return total === 0 ? 0 : weighted / (n * total);
}

/**
 * Exposure summed per creator. creatorOf: [numItems] creator index or -1 (items without a creator are
 * left out); returns [numCreators].
 */
export function groupExposure(exposure: Int32Array, creatorOf: Int32Array, numCreators: number): Float64Array {
  const out = new Float64Array(numCreators);
  for (let i = 0; i < exposure.length; i++) if (creatorOf[i] >= 0) out[creatorOf[i]] += exposure[i];
  return out;
}
