/**
 * Approximate nearest-neighbour search over item embeddings, the retrieval half of two-tower serving
 * (Covington et al. 2016 §3: "candidate generation ... nearest neighbour search in the dot product space").
 * It wraps usearch's HNSW graph (Malkov & Yashunin 2018, "Efficient and robust approximate nearest
 * neighbor search using Hierarchical Navigable Small World graphs") behind dense `itemIx` keys and typed
 * arrays, and keeps an exact brute-force search beside it: the reference every recall figure is measured
 * against (and a fallback for catalogs too small to need a graph).
 *
 * Scores are similarities (higher is better) for both metrics: usearch reports distances `1 - cos` and
 * `1 - dot`, converted back here so ANN and exact results compare directly.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { Index, MetricKind, ScalarKind, type BatchMatches, type Matches } from 'usearch';
import { NotFoundError, ValidationError, issuesFromSchema } from '../core/errors.js';

export type AnnMetric = 'cos' | 'ip';

export const AnnConfigSchema = z.strictObject({
  dims: z.number().int().min(1).max(4096),
  metric: z.enum(['cos', 'ip']).default('ip'),
  /** HNSW graph degree M: more edges per node → higher recall, more memory and slower inserts. */
  connectivity: z.number().int().min(2).max(128).default(32),
  /** Beam width while inserting (efConstruction). */
  expansionAdd: z.number().int().min(1).max(4096).default(256),
  /** Beam width while searching (ef): the recall/latency knob, tuned in bench/ann.ts. */
  expansionSearch: z.number().int().min(1).max(4096).default(192),
});
export type AnnConfigInput = z.input<typeof AnnConfigSchema>;
export type AnnConfig = z.output<typeof AnnConfigSchema>;

/** Result of a k-NN query block: row q holds its matches best first; unused slots are ix -1, score -Infinity. */
export interface AnnResult {
  /** ixs: [q, k] item indexes. */
  ixs: Int32Array;
  /** scores: [q, k] similarities (cosine or inner product). */
  scores: Float32Array;
  k: number;
}

/** Upper bound on k per query: retrieval feeds candidate lists, not whole-catalog scans. */
export const MAX_K = 10_000;

function parseConfig(input: AnnConfigInput): AnnConfig {
  const r = AnnConfigSchema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(
      'invalid ANN index config',
      issuesFromSchema(r.error.issues, 'ann'),
    );
  }
  return r.data;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new ValidationError(`k must be an integer in 1..${MAX_K}`, [{ path: 'k', message: `got ${k}` }]);
  }
}

function checkMatrix(vecs: Float32Array, dims: number, field: string): number {
  if (!(vecs instanceof Float32Array) || vecs.length === 0 || vecs.length % dims !== 0) {
    throw new ValidationError(`${field} must be a non-empty Float32Array of rows of ${dims} floats`, [
      { path: field, message: `length ${vecs?.length} is not a positive multiple of ${dims}` },
    ]);
  }
  for (let i = 0; i < vecs.length; i++) {
    if (!Number.isFinite(vecs[i])) {
      throw new ValidationError(`${field} has a non-finite value`, [{ path: `${field}[${i}]`, message: 'must be finite' }]);
    }
  }
  return vecs.length / dims;
}

function toKeys(ixs: Int32Array): BigUint64Array {
  const keys = new BigUint64Array(ixs.length);
  for (let i = 0; i < ixs.length; i++) {
    if (ixs[i] < 0) throw new ValidationError('item indexes must be >= 0', [{ path: `ixs[${i}]`, message: `got ${ixs[i]}` }]);
    keys[i] = BigInt(ixs[i]);
  }
  return keys;
}

export class AnnIndex {
  readonly config: AnnConfig;
  private index: Index;

  constructor(config: AnnConfigInput) {
    this.config = parseConfig(config);
    this.index = AnnIndex.makeNative(this.config);
  }

  private static makeNative(c: AnnConfig): Index {
    return new Index({
      dimensions: c.dims,
      metric: c.metric === 'cos' ? MetricKind.Cos : MetricKind.IP,
      quantization: ScalarKind.F32,
      connectivity: c.connectivity,
      expansion_add: c.expansionAdd,
      expansion_search: c.expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.index.size();
  }

  /**
   * Inserts rows. ixs: [n] distinct item indexes not yet in the index; vecs: [n, dims].
   * Re-adding an item replaces it (remove first, since the graph holds one vector per key).
   */
  add(ixs: Int32Array, vecs: Float32Array, threads = 0): void {
    const n = checkMatrix(vecs, this.config.dims, 'vecs');
    if (ixs.length !== n) {
      throw new ValidationError('ixs and vecs disagree on the number of rows', [
        { path: 'ixs', message: `${ixs.length} indexes for ${n} vectors` },
      ]);
    }
    const keys = toKeys(ixs);
    const present = this.index.contains(keys);
    const stale = Array.isArray(present) ? keys.filter((_, i) => present[i]) : present ? keys : new BigUint64Array(0);
    if (stale.length > 0) this.index.remove(stale);
    this.index.add(keys, vecs, threads);
  }

  /** Removes items; returns how many were present. */
  remove(ixs: Int32Array): number {
    if (ixs.length === 0) return 0;
    const r = this.index.remove(toKeys(ixs));
    return Array.isArray(r) ? r.reduce((a, b) => a + Number(b), 0) : Number(r);
  }

  contains(ix: number): boolean {
    return this.index.contains(BigInt(ix)) === true;
  }

  /** queries: [q, dims] (q = 1 for a single vector). threads 0 lets usearch pick. */
  search(queries: Float32Array, k: number, threads = 1): AnnResult {
    checkK(k);
    const q = checkMatrix(queries, this.config.dims, 'query');
    const ixs = new Int32Array(q * k).fill(-1);
    const scores = new Float32Array(q * k).fill(-Infinity);
    if (this.index.size() === 0) return { ixs, scores, k };
    // A flat array whose length is a multiple of dims is searched as a batch; keys/distances come back
    // as [q, k] padded rows with per-row counts.
    const m = this.index.search(queries, k, threads) as Matches | BatchMatches;
    const counts = 'counts' in m ? m.counts : null;
    for (let r = 0; r < q; r++) {
      const count = counts ? Number(counts[r]) : m.keys.length;
      for (let j = 0; j < count && j < k; j++) {
        ixs[r * k + j] = Number(m.keys[r * k + j]);
        scores[r * k + j] = 1 - m.distances[r * k + j];
      }
    }
    return { ixs, scores, k };
  }

  /**
   * Writes the graph to `path` and its config to `path + '.json'`, each through a temp file and rename,
   * so a reader never sees a half-written index.
   */
  save(path: string): void {
    const tmp = `${path}.tmp-${process.pid}`;
    this.index.save(tmp);
    writeFileSync(`${tmp}.json`, JSON.stringify({ format: 'tastemaker-ann/1', ...this.config }));
    renameSync(`${tmp}.json`, `${path}.json`);
    renameSync(tmp, path);
  }

  /**
   * Loads an index written by `save`. `overrides.expansionSearch` changes the search beam without
   * rebuilding (it is a query-time parameter, not stored in the graph).
   */
  static load(path: string, overrides: { expansionSearch?: number } = {}): AnnIndex {
    if (!existsSync(path) || !existsSync(`${path}.json`)) {
      throw new NotFoundError(`no ANN index at ${path}`, [{ path: 'path', message: 'index file or its .json config missing' }]);
    }
    const raw = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as Record<string, unknown>;
    delete raw.format;
    const idx = new AnnIndex({ ...(raw as AnnConfigInput), ...overrides });
    idx.index.load(path);
    return idx;
  }

  /**
   * Index over every row of a [n, dims] matrix with item index = row (e.g. the two-tower model's
   * `itemVectors` from the registry), skipping rows listed in `exclude` (unavailable items).
   */
  static fromMatrix(vectors: Float32Array, config: AnnConfigInput, exclude?: ReadonlySet<number>): AnnIndex {
    const idx = new AnnIndex(config);
    const d = idx.config.dims;
    const n = checkMatrix(vectors, d, 'vectors');
    const keep: number[] = [];
    for (let i = 0; i < n; i++) if (!exclude?.has(i)) keep.push(i);
    if (keep.length === n) {
      idx.add(Int32Array.from(keep), vectors);
    } else if (keep.length > 0) {
      const rows = new Float32Array(keep.length * d);
      keep.forEach((i, r) => rows.set(vectors.subarray(i * d, (i + 1) * d), r * d));
      idx.add(Int32Array.from(keep), rows);
    }
    return idx;
  }

  /** Deletes a saved index and its config. */
  static remove(path: string): void {
    rmSync(path, { force: true });
    rmSync(`${path}.json`, { force: true });
  }
}

/**
 * Exact top-k by brute force: the reference for ANN recall, and the right tool for small catalogs.
 * base: [n, dims] with row i holding item baseIxs[i]; queries: [q, dims]. For 'cos' rows are normalised
 * on the fly. A bounded insertion list keeps k best per query; no per-item allocation.
 */
export function exactSearch(
  baseIxs: Int32Array,
  base: Float32Array,
  queries: Float32Array,
  dims: number,
  k: number,
  metric: AnnMetric = 'ip',
): AnnResult {
  checkK(k);
  const n = checkMatrix(base, dims, 'base');
  const q = checkMatrix(queries, dims, 'query');
  if (baseIxs.length !== n) {
    throw new ValidationError('baseIxs and base disagree on the number of rows', [{ path: 'baseIxs', message: `${baseIxs.length} vs ${n}` }]);
  }
  const invNorm = new Float32Array(n).fill(1);
  if (metric === 'cos') {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < dims; d++) s += base[i * dims + d] * base[i * dims + d];
      invNorm[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
    }
  }
  const ixs = new Int32Array(q * k).fill(-1);
  const scores = new Float32Array(q * k).fill(-Infinity);
  for (let r = 0; r < q; r++) {
    const qo = r * dims;
    let qs = 1;
    if (metric === 'cos') {
      let s = 0;
      for (let d = 0; d < dims; d++) s += queries[qo + d] * queries[qo + d];
      qs = s > 0 ? 1 / Math.sqrt(s) : 0;
    }
    const ro = r * k;
    let worst = -Infinity; // score of the k-th best so far (slot k-1)
    for (let i = 0; i < n; i++) {
      const bo = i * dims;
      let s = 0;
      for (let d = 0; d < dims; d++) s += queries[qo + d] * base[bo + d];
      s *= invNorm[i] * qs;
      if (s <= worst) continue;
      let j = k - 1;
      while (j > 0 && scores[ro + j - 1] < s) {
        scores[ro + j] = scores[ro + j - 1];
        ixs[ro + j] = ixs[ro + j - 1];
        j--;
      }
      scores[ro + j] = s;
      ixs[ro + j] = baseIxs[i];
      worst = scores[ro + k - 1];
    }
  }
  return { ixs, scores, k };
}

/** Mean over queries of |approx top-k ∩ exact top-k| / k (counting only real exact hits). */
export function recallAtK(approx: AnnResult, exact: AnnResult, k: number): number {
  const q = approx.ixs.length / approx.k;
  let sum = 0;
  for (let r = 0; r < q; r++) {
    const truth = new Set<number>();
    for (let j = 0; j < k; j++) {
      const ix = exact.ixs[r * exact.k + j];
      if (ix >= 0) truth.add(ix);
    }
    if (truth.size === 0) continue;
    let hit = 0;
    for (let j = 0; j < k; j++) if (truth.has(approx.ixs[r * approx.k + j])) hit++;
    sum += hit / truth.size;
  }
  return q > 0 ? sum / q : 0;
}
