/**
 * Hybrid search over a catalog: one object that keeps the lexical index (BM25F, typo + prefix), the
 * content-tower embeddings with their ANN index, and the autocomplete in step as items are added,
 * changed and removed, and answers `search({q, n, tags?, creator?, userHistory?})`.
 *
 * Pipeline per query: lexical top-L and semantic top-S (both already filtered) → union of candidates →
 * features [normalised BM25, cosine, RRF, popularity, in-both] → ranking by the mode:
 *   lexical | semantic | rrf (Cormack et al. 2009) | hybrid (learned logistic blend, RRF until fitted)
 * → optional personal re-rank: affinity of the candidate's tags/creator to the user's history plus the
 * cosine to the mean content embedding of that history, added with weight `personalWeight`.
 *
 * Item slots `ix` are dense and reused after removal; the same ix addresses the lexical index, the
 * embedding matrix and the ANN graph.
 */
import { z } from 'zod';
import { ConflictError, UnavailableError, ValidationError, issuesFromSchema } from '../core/errors.js';
import { Id, LIMITS } from '../core/schemas.js';
import { TopK } from '../candidates/topk.js';
import { CandidateBuffer } from '../candidates/types.js';
import { AnnIndex } from '../index/ann.js';
import {
  ContentEncoder,
  cooccurrencePairs,
  trainEncoder,
  type ContentFields,
  type EncoderConfigInput,
  type EncoderState,
  type TrainConfigInput,
  type TrainReport,
} from './encoder.js';
import { itemText, type TextEmbedder } from './external.js';
import { LogisticBlend, reciprocalRankFusion } from './fusion.js';
import { LexicalIndex, type LexicalConfigInput } from './lexical.js';
import { Suggester, type Suggestion } from './suggest.js';
import { fold, tokenize } from './text.js';
import { Rng } from '../core/rng.js';

export const SearchItemSchema = z.strictObject({
  id: Id,
  title: z.string().max(LIMITS.titleLength).default(''),
  text: z.string().max(LIMITS.textLength).default(''),
  tags: z.array(z.string().min(1).max(LIMITS.tagLength)).max(LIMITS.tagsPerItem).default([]),
  /** Display name of the creator (searched); creatorId is matched by the `creator` filter too. */
  creator: z.string().max(LIMITS.titleLength).optional(),
  creatorId: Id.optional(),
  available: z.boolean().default(true),
  /** Any non-negative popularity signal (play count, decayed events); orders suggestions, feeds the blend. */
  popularity: z.number().min(0).refine(Number.isFinite, 'must be finite').default(0),
});
export type SearchItem = z.input<typeof SearchItemSchema>;
type ParsedItem = z.output<typeof SearchItemSchema>;

export const SearchMode = z.enum(['lexical', 'semantic', 'rrf', 'hybrid']);
export type SearchMode = z.infer<typeof SearchMode>;

export const SearchQuerySchema = z.strictObject({
  q: z.string().max(1_000),
  n: z.number().int().min(1).max(LIMITS.maxN).default(10),
  /** Every listed tag must be on the item (case- and accent-insensitive). */
  tags: z.array(z.string().min(1).max(LIMITS.tagLength)).max(20).optional(),
  /** Creator name or creatorId. */
  creator: z.string().min(1).max(LIMITS.titleLength).optional(),
  /** Item ids the user consumed, most recent last (only the last 200 are used). */
  userHistory: z.array(Id).max(10_000).optional(),
  mode: SearchMode.default('hybrid'),
});
export type SearchQuery = z.input<typeof SearchQuerySchema>;

export type SearchSource = 'lexical' | 'semantic' | 'lexical+semantic';

export interface SearchResult {
  itemIds: string[];
  scores: number[];
  sources: SearchSource[];
}

export const SearchConfigSchema = z.strictObject({
  lexical: z.custom<LexicalConfigInput>().default({}),
  encoder: z.custom<EncoderConfigInput>().default({}),
  /** Candidates taken from each retriever before fusion. */
  lexicalCandidates: z.number().int().min(1).max(5_000).default(100),
  semanticCandidates: z.number().int().min(1).max(5_000).default(100),
  rrfK: z.number().min(0).max(10_000).default(60),
  /** Above this many items, semantic retrieval goes through the HNSW graph instead of an exact scan. */
  annThreshold: z.number().int().min(0).default(20_000),
  /** Weight of the personal affinity added to the fused score (0 disables personalisation). */
  personalWeight: z.number().min(0).max(10).default(0.3),
  /**
   * Weight of search-click feedback in rrf/hybrid modes: a candidate clicked before for the same
   * (normalised) query gains clickWeight · spread · log(1 + clicks) / log(1 + most clicks for it).
   */
  clickWeight: z.number().min(0).max(10).default(0.5),
  /** Bounds on the click memory: distinct queries (oldest forgotten first) and items per query. */
  maxClickQueries: z.number().int().min(1).max(10_000_000).default(100_000),
  maxClicksPerQuery: z.number().int().min(1).max(10_000).default(200),
});
export type SearchConfigInput = z.input<typeof SearchConfigSchema>;
export type SearchConfig = z.output<typeof SearchConfigSchema>;

/**
 * Features of a candidate, in this order, for the learned blend. The products let a linear model
 * say "popular *and* matching" (popularity alone would lift popular non-matches). `titleCover` is the
 * known-item signal (the query is some item's title, up to typos); `popularity*topical` multiplies
 * popularity by 1 − (the best titleCover of the query's candidates), so popularity can count for
 * topical queries ("comedy") without overriding the exact title of a navigational one.
 */
export const BLEND_FEATURES = [
  'bm25', 'cosine', 'rrf', 'popularity', 'both', 'popularity*bm25', 'popularity*cosine', 'titleCover', 'popularity*topical',
] as const;
const NFEAT = BLEND_FEATURES.length;

/** A candidate's features and scores for one query (exposed for the benchmark and blend fitting). */
export interface Candidates {
  ixs: Int32Array;
  /** X: [count, NFEAT] features in BLEND_FEATURES order. */
  X: Float64Array;
  /** lexRank/semRank: [count] 1-based rank in each list, 0 when absent. */
  lexRank: Int32Array;
  semRank: Int32Array;
  count: number;
}

const HISTORY_LIMIT = 200;
/** Filtered semantic retrieval scans the allowed slots exactly up to this many (else the graph). */
const EXACT_ALLOW_LIST = 2_048;

/** A copy of `a` grown to `length` (zeros after a's end). */
function grown(a: Float32Array, length: number): Float32Array<ArrayBuffer> {
  const b = new Float32Array(length);
  b.set(a);
  return b;
}

function parseWith<S extends z.ZodType>(schema: S, v: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(v);
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues, prefix);
    throw new ValidationError(`invalid ${prefix || 'input'}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

export interface TowerTrainOptions {
  train?: TrainConfigInput;
  window?: number;
  maxPairs?: number;
  seed?: number;
}

/**
 * The content tower's fit, on plain documents: idf from their texts, then contrastive training on
 * co-consumption pairs drawn from `sequences` (item ids per user, oldest first; `localOf` maps an id to
 * its row in `docs`) and self pairs. SearchIndex.trainContent runs it on its live slots; the tower
 * worker runs it on the store's items directly, without building a whole index (same rows in the same
 * order, so the same weights).
 */
export function trainTower(
  encoder: ContentEncoder,
  docs: readonly ContentFields[],
  localOf: (id: string) => number | undefined,
  sequences: readonly (readonly string[])[],
  opts: TowerTrainOptions = {},
): TrainReport {
  const offsets = [0];
  const flat: number[] = [];
  for (const seq of sequences) {
    for (const id of seq) {
      const li = localOf(id);
      if (li !== undefined) flat.push(li);
    }
    offsets.push(flat.length);
  }
  const rng = new Rng(opts.seed ?? 5);
  const pairs = cooccurrencePairs(Int32Array.from(offsets), Int32Array.from(flat), opts.window ?? 3, opts.maxPairs ?? 2_000_000, rng);
  encoder.fitIdf(docs);
  return trainEncoder(encoder, docs, pairs, opts.train);
}

export class SearchIndex {
  readonly config: SearchConfig;
  readonly lexical: LexicalIndex;
  encoder: ContentEncoder;
  private readonly suggester = new Suggester();
  private blend: LogisticBlend | undefined;

  // --- items by slot ---
  private readonly ixById = new Map<string, number>();
  private items: (ParsedItem | undefined)[] = [];
  private readonly free: number[] = [];
  private liveCount = 0;
  /** emb: [capacity, dims] unit content embeddings. */
  private emb = new Float32Array(0);
  private popularity = new Float32Array(0);
  private available = new Uint8Array(0);
  private tagSets: (Set<string> | undefined)[] = [];
  private creatorKeys: (string[] | undefined)[] = [];
  private maxLogPop = 0;
  private ann: AnnIndex | undefined;
  /**
   * Whether the first semantic query above annThreshold builds the graph on the spot (the default). An
   * owner that builds it with buildAnnStep sets this false, so no query ever blocks on a whole build.
   */
  lazyAnn = true;
  /**
   * A trained tower being swapped in a chunk at a time (swapEncoderStep): emb holds its embeddings of the
   * live slots below cursor; the current tower answers until the last step swaps both at once.
   */
  private swap: { encoder: ContentEncoder; emb: Float32Array<ArrayBuffer>; cursor: number } | undefined;
  /** A graph being built a chunk at a time (buildAnnStep); semantic retrieval scans exactly until it is done. */
  private annBuild: { ann: AnnIndex; cursor: number } | undefined;
  private qvec: Float32Array;
  private scratch: Float32Array;
  /** An external encoder replacing the content tower (items and queries); undefined = in-project tower. */
  private external: TextEmbedder | undefined;
  /** Slots whose external embedding is not computed yet (flushed by the async methods). */
  private readonly pending = new Set<number>();
  /** Facet postings for filters: folded tag / creator key → live slots carrying it. */
  private readonly tagIndex = new Map<string, Set<number>>();
  private readonly creatorIndex = new Map<string, Set<number>>();
  /** allowMask: [capacity] per-query scratch bitmap of the slots a filter allows (cleared after use). */
  private allowMask = new Uint8Array(0);
  /** Search-click memory: normalised query → item id → click weight. */
  private readonly clicks = new Map<string, Map<string, number>>();
  private readonly topk = new TopK(5_000);
  private towerVersionCount = 0;

  constructor(config: SearchConfigInput = {}) {
    this.config = parseWith(SearchConfigSchema, config, 'search');
    this.lexical = new LexicalIndex(this.config.lexical);
    this.encoder = new ContentEncoder(this.config.encoder);
    this.qvec = new Float32Array(this.encoder.dims);
    this.scratch = new Float32Array(this.encoder.dims);
  }

  get size(): number {
    return this.liveCount;
  }

  /** Dimension of the semantic space (the tower's, or the external encoder's). */
  get dims(): number {
    return this.external ? this.external.dims : this.encoder.dims;
  }

  /** Which encoder produces the semantic side. */
  get semanticEncoder(): string {
    return this.external ? this.external.name : 'content-tower';
  }

  ixOf(id: string): number | undefined {
    return this.ixById.get(id);
  }

  idOf(ix: number): string | undefined {
    return this.items[ix]?.id;
  }

  private ensureCapacity(ix: number): void {
    const d = this.dims;
    if (ix < this.popularity.length) return;
    let cap = Math.max(16, this.popularity.length);
    while (cap <= ix) cap *= 2;
    const emb = new Float32Array(cap * d);
    emb.set(this.emb);
    this.emb = emb;
    const pop = new Float32Array(cap);
    pop.set(this.popularity);
    this.popularity = pop;
    const av = new Uint8Array(cap);
    av.set(this.available);
    this.available = av;
  }

  private static fields(it: ParsedItem): ContentFields {
    return { title: it.title, text: it.text, tags: it.tags, creator: it.creator, key: it.id };
  }

  /** Unavailable items are not suggested (they are never returned by search either). */
  private suggestRefs(it: ParsedItem, add: boolean): void {
    if (!it.available) return;
    const f = add ? this.suggester.add.bind(this.suggester) : this.suggester.remove.bind(this.suggester);
    const p = it.popularity;
    if (it.title) f('title', it.title, p, it.id);
    if (it.creator) f('creator', it.creator, p);
    for (const t of new Set(it.tags)) f('tag', t, p);
  }

  /** Adds or replaces items (validated; the error names the row and field). */
  upsert(rows: readonly SearchItem[]): void {
    const parsed = rows.map((r, i) => parseWith(SearchItemSchema, r, `items[${i}]`));
    const d = this.dims;
    const newIxs: number[] = [];
    for (const it of parsed) {
      let ix = this.ixById.get(it.id);
      if (ix !== undefined) {
        this.suggestRefs(this.items[ix]!, false);
        this.facets(ix, false);
      } else {
        ix = this.free.length > 0 ? this.free.pop()! : this.items.length;
        this.ixById.set(it.id, ix);
        this.liveCount++;
      }
      this.ensureCapacity(ix);
      this.items[ix] = it;
      this.lexical.add(ix, { title: it.title, text: it.text, tags: it.tags, creator: it.creator });
      if (this.external) {
        this.emb.fill(0, ix * d, ix * d + d);
        this.pending.add(ix);
      } else {
        this.encoder.embed(SearchIndex.fields(it), this.emb, ix * d);
        // A slot the incoming tower already passed gets its embedding too.
        const sw = this.swap;
        if (sw && ix < sw.cursor) {
          if (sw.emb.length < this.emb.length) sw.emb = grown(sw.emb, this.emb.length);
          sw.encoder.embed(SearchIndex.fields(it), sw.emb, ix * d);
        }
      }
      this.popularity[ix] = it.popularity;
      this.lexical.setPrior(ix, Math.log1p(it.popularity));
      this.maxLogPop = Math.max(this.maxLogPop, Math.log1p(it.popularity));
      this.available[ix] = it.available ? 1 : 0;
      this.tagSets[ix] = new Set(it.tags.map(fold));
      this.creatorKeys[ix] = [it.creator, it.creatorId].filter((s): s is string => !!s).map(fold);
      this.facets(ix, true);
      this.suggestRefs(it, true);
      newIxs.push(ix);
    }
    if (this.ann && newIxs.length > 0 && !this.external) this.annAdd(this.ann, newIxs);
    // A graph under construction already holds the slots below its cursor: re-add those (replacing).
    const build = this.annBuild;
    if (build && !this.external) {
      const passed = newIxs.filter((ix) => ix < build.cursor);
      if (passed.length > 0) this.annAdd(build.ann, passed);
    }
  }

  /** Removes items by id; returns how many existed. */
  remove(ids: readonly string[]): number {
    let n = 0;
    const gone: number[] = [];
    for (const id of ids) {
      const ix = this.ixById.get(id);
      if (ix === undefined) continue;
      this.suggestRefs(this.items[ix]!, false);
      this.lexical.remove(ix);
      this.facets(ix, false);
      this.items[ix] = undefined;
      this.tagSets[ix] = undefined;
      this.creatorKeys[ix] = undefined;
      this.available[ix] = 0;
      this.ixById.delete(id);
      this.pending.delete(ix);
      this.free.push(ix);
      this.liveCount--;
      gone.push(ix);
      n++;
    }
    if (this.ann && gone.length > 0) this.ann.remove(Int32Array.from(gone));
    if (this.annBuild && gone.length > 0) this.annBuild.ann.remove(Int32Array.from(gone));
    return n;
  }

  /** Updates popularity (e.g. from decayed event counters) without re-indexing text. */
  setPopularity(id: string, popularity: number): void {
    const ix = this.ixById.get(id);
    if (ix === undefined) throw new ValidationError(`unknown item ${id}`, [{ path: 'id', message: 'not in the search index' }]);
    if (!(popularity >= 0) || !Number.isFinite(popularity)) {
      throw new ValidationError('popularity must be a finite number >= 0', [{ path: 'popularity', message: `got ${popularity}` }]);
    }
    const it = this.items[ix]!;
    const delta = it.available ? popularity - it.popularity : 0;
    if (it.title) this.suggester.adjust('title', it.title, delta, it.id);
    if (it.creator) this.suggester.adjust('creator', it.creator, delta);
    for (const t of new Set(it.tags)) this.suggester.adjust('tag', t, delta);
    it.popularity = popularity;
    this.popularity[ix] = popularity;
    this.lexical.setPrior(ix, Math.log1p(popularity));
    this.maxLogPop = Math.max(this.maxLogPop, Math.log1p(popularity));
  }

  /** Live slots in ix order, with their content fields. */
  private liveSlots(): { ixs: number[]; docs: ContentFields[] } {
    const ixs: number[] = [];
    const docs: ContentFields[] = [];
    this.items.forEach((it, ix) => {
      if (it) {
        ixs.push(ix);
        docs.push(SearchIndex.fields(it));
      }
    });
    return { ixs, docs };
  }

  /** Re-embeds every item with the current encoder and rebuilds the ANN graph if one is in use. */
  reembed(): void {
    if (this.external) throw new ConflictError('an external encoder is attached; its embeddings are not re-computed here');
    const d = this.dims;
    for (let ix = 0; ix < this.items.length; ix++) {
      const it = this.items[ix];
      if (it) this.encoder.embed(SearchIndex.fields(it), this.emb, ix * d);
    }
    this.ann = undefined;
    this.annBuild = undefined;
    this.swap = undefined;
  }

  /** How many times the content tower was trained or loaded (0 = the untrained random projection). */
  get towerVersion(): number {
    return this.towerVersionCount;
  }

  /** True once the content tower was trained here or a trained state was loaded. */
  get towerTrained(): boolean {
    return this.towerVersionCount > 0;
  }

  /** The content tower's state (config, weights, idf), e.g. to hand trained weights to another index. */
  encoderState(): EncoderState {
    return this.encoder.state();
  }

  /**
   * Swaps in a trained content tower (e.g. trained in a worker thread on a snapshot of the catalog) and
   * re-embeds every live item with it, items upserted since the snapshot included; the ANN graph is
   * dropped and rebuilt on the next semantic query. The dimension must match this index's.
   */
  loadEncoderState(state: EncoderState): void {
    this.beginEncoderSwap(state);
    this.swapEncoderStep(Number.MAX_SAFE_INTEGER);
  }

  /**
   * loadEncoderState in steps, for an owner that must keep answering (the search worker: re-embedding a
   * million items takes tens of seconds): starts the swap; swapEncoderStep then embeds a chunk per call
   * into a fresh matrix while the current tower keeps answering, and the last step swaps both at once
   * (and drops the ANN graph). Writes meanwhile are embedded by both towers. A later swap, training or
   * external encoder cancels it.
   */
  beginEncoderSwap(state: EncoderState): void {
    if (this.external) throw new ConflictError('an external encoder is attached; the content tower is not used', [{ path: 'encoder', message: this.external.name }]);
    if (state.config.dims !== this.encoder.dims) {
      throw new ValidationError(`encoder state has ${state.config.dims} dims, this index ${this.encoder.dims}`, [
        { path: 'config.dims', message: `expected ${this.encoder.dims}` },
      ]);
    }
    this.swap = { encoder: ContentEncoder.fromState(state), emb: new Float32Array(this.emb.length), cursor: 0 };
  }

  /** True while a swap started by beginEncoderSwap is under way. */
  get swapping(): boolean {
    return this.swap !== undefined;
  }

  /** Embeds up to `maxRows` more live items with the incoming tower; true once it is in use (or none pending). */
  swapEncoderStep(maxRows = 5_000): boolean {
    const sw = this.swap;
    if (!sw) return true;
    if (sw.emb.length < this.emb.length) sw.emb = grown(sw.emb, this.emb.length);
    const d = this.dims;
    let ix = sw.cursor;
    for (let done = 0; ix < this.items.length && done < maxRows; ix++) {
      const it = this.items[ix];
      if (!it) continue;
      sw.encoder.embed(SearchIndex.fields(it), sw.emb, ix * d);
      done++;
    }
    sw.cursor = ix;
    if (ix < this.items.length) return false;
    this.encoder = sw.encoder;
    this.emb = sw.emb;
    this.swap = undefined;
    this.ann = undefined;
    this.annBuild = undefined;
    this.towerVersionCount++;
    return true;
  }

  /**
   * Fits the content tower on the current catalog: idf from item texts, then contrastive training on
   * co-consumption (`sequences` of item ids per user, oldest first) and self pairs. Re-embeds items.
   */
  trainContent(sequences: readonly (readonly string[])[], opts: TowerTrainOptions = {}): TrainReport {
    if (this.external) throw new ConflictError('an external encoder is attached; the content tower is not used', [{ path: 'encoder', message: this.external.name }]);
    const { ixs, docs } = this.liveSlots();
    const local = new Map<number, number>();
    ixs.forEach((ix, i) => local.set(ix, i));
    const report = trainTower(this.encoder, docs, (id) => {
      const ix = this.ixById.get(id);
      return ix === undefined ? undefined : local.get(ix);
    }, sequences, opts);
    this.reembed();
    if (report.steps > 0) this.towerVersionCount++;
    return report;
  }

  /**
   * Switches the semantic side to an external encoder (issue 8 item 3): every item is embedded by it
   * now (bounded batches), later upserts are embedded by the async methods (`upsertAsync`,
   * `searchAsync`, `flushEmbeddings`). The lexical side and the blend features are unchanged.
   */
  async attachExternalEncoder(embedder: TextEmbedder): Promise<void> {
    const { ixs, docs } = this.liveSlots();
    const vecs = await embedder.embedBatch(docs.map(itemText));
    const d = embedder.dims;
    if (ixs.length > 0 && (d < 1 || vecs.length !== ixs.length * d)) {
      throw new UnavailableError(`external encoder returned ${vecs.length} values for ${ixs.length} items`);
    }
    const dims = d > 0 ? d : 1;
    const emb = new Float32Array(this.popularity.length * dims);
    ixs.forEach((ix, i) => emb.set(vecs.subarray(i * dims, i * dims + dims), ix * dims));
    this.external = embedder;
    this.emb = emb;
    this.qvec = new Float32Array(dims);
    this.scratch = new Float32Array(dims);
    this.pending.clear();
    this.ann = undefined;
    this.annBuild = undefined;
    this.swap = undefined;
  }

  /** Embeds items upserted since the last flush with the external encoder (no-op for the tower). */
  async flushEmbeddings(): Promise<void> {
    if (!this.external || this.pending.size === 0) return;
    const ixs = [...this.pending];
    const vecs = await this.external.embedBatch(ixs.map((ix) => itemText(SearchIndex.fields(this.items[ix]!))));
    const d = this.dims;
    if (vecs.length !== ixs.length * d) throw new UnavailableError(`external encoder returned ${vecs.length} values for ${ixs.length} items`);
    const live: number[] = [];
    ixs.forEach((ix, i) => {
      if (!this.items[ix] || !this.pending.has(ix)) return;
      this.emb.set(vecs.subarray(i * d, i * d + d), ix * d);
      this.pending.delete(ix);
      live.push(ix);
    });
    if (this.ann && live.length > 0) {
      const v = new Float32Array(live.length * d);
      live.forEach((ix, i) => v.set(this.emb.subarray(ix * d, ix * d + d), i * d));
      this.ann.add(Int32Array.from(live), v);
    }
  }

  /** upsert + embedding with the external encoder when one is attached. */
  async upsertAsync(rows: readonly SearchItem[]): Promise<void> {
    this.upsert(rows);
    await this.flushEmbeddings();
  }

  /** Replaces the learned blend (e.g. loaded from an artifact). */
  setBlend(blend: LogisticBlend | undefined): void {
    if (blend && blend.numFeatures !== NFEAT) {
      throw new ValidationError(`blend must have ${NFEAT} weights`, [{ path: 'blend', message: `got ${blend.numFeatures}` }]);
    }
    this.blend = blend;
  }

  get blendModel(): LogisticBlend | undefined {
    return this.blend;
  }

  private facets(ix: number, add: boolean): void {
    const put = (m: Map<string, Set<number>>, key: string): void => {
      let set = m.get(key);
      if (add) {
        if (!set) m.set(key, (set = new Set()));
        set.add(ix);
      } else if (set) {
        set.delete(ix);
        if (set.size === 0) m.delete(key);
      }
    };
    for (const t of this.tagSets[ix] ?? []) put(this.tagIndex, t);
    for (const k of new Set(this.creatorKeys[ix] ?? [])) put(this.creatorIndex, k);
  }

  /**
   * The request filter. Without tags/creator: available items. With them: the allowed slots are
   * enumerated once from the facet postings (iterating the smallest posting set), marked in a bitmap
   * for O(1) checks, and listed so an exact semantic scan visits only them. Call `release` after use.
   */
  private makeFilter(tags: string[] | undefined, creator: string | undefined): { allows: (ix: number) => boolean; list?: Int32Array; release(): void } {
    if (tags === undefined && creator === undefined) {
      return { allows: (ix: number) => this.available[ix] === 1, release: () => undefined };
    }
    const empty = new Set<number>();
    const sets: Set<number>[] = (tags ?? []).map((t) => this.tagIndex.get(fold(t)) ?? empty);
    if (creator !== undefined) sets.push(this.creatorIndex.get(fold(creator)) ?? empty);
    sets.sort((a, b) => a.size - b.size);
    const list: number[] = [];
    for (const ix of sets[0]) {
      if (this.available[ix] !== 1) continue;
      let ok = true;
      for (let i = 1; i < sets.length && ok; i++) ok = sets[i].has(ix);
      if (ok) list.push(ix);
    }
    if (this.allowMask.length < this.items.length) this.allowMask = new Uint8Array(Math.max(16, this.items.length * 2));
    const mask = this.allowMask;
    for (const ix of list) mask[ix] = 1;
    return {
      allows: (ix: number) => mask[ix] === 1,
      list: Int32Array.from(list),
      release: () => {
        for (const ix of list) mask[ix] = 0;
      },
    };
  }

  /** Adds the current embeddings of slots `ixs` to a graph (replacing those it holds). */
  private annAdd(ann: AnnIndex, slots: readonly number[], threads = 1): void {
    const d = this.dims;
    const ixs = Int32Array.from(slots);
    // vecs: [ixs.length, d]
    const vecs = new Float32Array(ixs.length * d);
    for (let i = 0; i < ixs.length; i++) vecs.set(this.emb.subarray(ixs[i] * d, ixs[i] * d + d), i * d);
    ann.add(ixs, vecs, threads);
  }

  /** True while a graph is wanted (above annThreshold) but not built yet. */
  get annPending(): boolean {
    return this.liveCount > this.config.annThreshold && !this.ann;
  }

  /**
   * Builds the ANN graph incrementally: adds up to `maxRows` more live slots per call and returns true
   * once the graph is complete (or none is needed). Until then semantic retrieval scans exactly, so an
   * owner that must stay responsive (the search worker) can interleave queries between steps instead of
   * blocking on one graph build of the whole catalog (minutes at a million items).
   */
  buildAnnStep(maxRows = 2_000, threads = 1): boolean {
    if (!this.annPending) {
      this.annBuild = undefined;
      return true;
    }
    if (!this.annBuild) this.annBuild = { ann: new AnnIndex({ dims: this.dims, metric: 'ip' }), cursor: 0 };
    const b = this.annBuild;
    const slots: number[] = [];
    let ix = b.cursor;
    for (; ix < this.items.length && slots.length < maxRows; ix++) if (this.items[ix]) slots.push(ix);
    if (slots.length > 0) this.annAdd(b.ann, slots, threads);
    b.cursor = ix;
    if (ix < this.items.length) return false;
    this.ann = b.ann;
    this.annBuild = undefined;
    return true;
  }

  private ensureAnn(threads = 0): AnnIndex | undefined {
    if (this.liveCount <= this.config.annThreshold) return undefined;
    if (this.ann) return this.ann;
    // Someone is building it step by step: scan exactly meanwhile rather than build it twice.
    if (this.annBuild || !this.lazyAnn) return undefined;
    const d = this.dims;
    const ann = new AnnIndex({ dims: d, metric: 'ip' });
    const ixs: number[] = [];
    this.items.forEach((it, ix) => {
      if (it) ixs.push(ix);
    });
    const vecs = new Float32Array(ixs.length * d);
    ixs.forEach((ix, i) => vecs.set(this.emb.subarray(ix * d, ix * d + d), i * d));
    ann.add(Int32Array.from(ixs), vecs, threads);
    this.ann = ann;
    return ann;
  }

  /**
   * Does now what the first queries after a bulk build would otherwise pay for: the ANN graph (above
   * annThreshold items; `threads` bounds its native insert threads, 0 = all cores), the lexical
   * dictionary sort and field weights, and the autocomplete merge (seconds each at a million items).
   */
  warm(threads = 0): void {
    this.ensureAnn(threads);
    this.prepare();
  }

  /** The lexical and autocomplete upkeep of warm() alone (the ANN graph can be built by buildAnnStep). */
  prepare(): void {
    this.lexical.prepare();
    this.suggester.prepare();
  }

  /** Exact inner-product top-k over live, allowed slots. */
  private exactSemantic(q: Float32Array, k: number, filter: (ix: number) => boolean, list?: Int32Array): CandidateBuffer {
    const d = this.dims;
    const heap = this.topk;
    heap.reset(Math.min(k, this.topk.capacity));
    const emb = this.emb;
    const n = list ? list.length : this.items.length;
    for (let i = 0; i < n; i++) {
      const ix = list ? list[i] : i;
      if (!this.items[ix] || !filter(ix)) continue;
      let s = 0;
      const o = ix * d;
      for (let j = 0; j < d; j++) s += q[j] * emb[o + j];
      if (s > heap.threshold) heap.push(ix, s);
    }
    const out = new CandidateBuffer(heap.count);
    heap.drainInto(out);
    return out;
  }

  /**
   * Semantic top-k for an embedded query (qvec filled), filtered. With a filter the graph is searched
   * 8× wider and the exact scan is the fallback only when fewer than `need` allowed items come back.
   */
  private semantic(k: number, filter: (ix: number) => boolean, filtered: boolean, need = k, list?: Int32Array): CandidateBuffer {
    const ann = this.ensureAnn();
    // A short allow-list is cheaper to scan exactly than to dig out of the graph; a broad one (a common
    // tag) is searched in the graph with over-fetch.
    if (!ann || (list && list.length <= EXACT_ALLOW_LIST)) return this.exactSemantic(this.qvec, k, filter, list);
    const fetch = Math.min(10_000, filtered ? Math.max(k * 8, 400) : k + 16);
    const r = ann.search(this.qvec, fetch, 1);
    const out = new CandidateBuffer(k);
    for (let j = 0; j < r.k && out.count < k; j++) {
      const ix = r.ixs[j];
      if (ix < 0) break;
      if (!this.items[ix] || !filter(ix)) continue;
      out.items[out.count] = ix;
      out.scores[out.count++] = r.scores[j];
    }
    // A selective filter can starve the graph search: fall back to an exact scan.
    if (filtered && out.count < Math.min(k, need)) return this.exactSemantic(this.qvec, k, filter, list);
    return out;
  }

  /** Retrieval + features for one query (no personalisation); used by search and by blend fitting. */
  candidates(
    q: string,
    filter: (ix: number) => boolean = (ix) => this.available[ix] === 1,
    filtered = false,
    n = 10,
    queryEmbedded = false,
    mode: SearchMode = 'hybrid',
    allowList?: Int32Array,
  ): Candidates {
    const { lexicalCandidates: L, semanticCandidates: S, rrfK } = this.config;
    // Single-retriever modes skip the other retriever (its list would not be used).
    const lex = mode === 'semantic' ? { ixs: new Int32Array(0), scores: new Float32Array(0), titleCover: new Float32Array(0), count: 0 } : this.lexical.search(q, L, filter);
    if (!queryEmbedded) {
      if (this.external) throw new UnavailableError('an external encoder is attached: use searchAsync');
      this.encoder.embed({ title: q }, this.qvec);
    }
    let qEmpty = true;
    for (let j = 0; j < this.qvec.length; j++) if (this.qvec[j] !== 0) qEmpty = false;
    const sem = qEmpty || mode === 'lexical' ? new CandidateBuffer(0) : this.semantic(S, filter, filtered, Math.max(20, 2 * n), allowList);
    const fused = reciprocalRankFusion([{ ixs: lex.ixs, count: lex.count }, { ixs: sem.items, count: sem.count }], rrfK);
    const count = fused.size;
    const ixs = new Int32Array(count);
    const X = new Float64Array(count * NFEAT);
    const lexRank = new Int32Array(count);
    const semRank = new Int32Array(count);
    const pos = new Map<number, number>();
    let c = 0;
    for (const [ix, rrf] of fused) {
      pos.set(ix, c);
      ixs[c] = ix;
      X[c * NFEAT + 2] = rrf * rrfK; // ~[0, 2]
      c++;
    }
    const maxLex = lex.count > 0 ? lex.scores[0] : 1;
    for (let r = 0; r < lex.count; r++) {
      const i = pos.get(lex.ixs[r])!;
      X[i * NFEAT] = lex.scores[r] / maxLex;
      X[i * NFEAT + 7] = lex.titleCover[r];
      lexRank[i] = r + 1;
    }
    for (let r = 0; r < sem.count; r++) semRank[pos.get(sem.items[r])!] = r + 1;
    const d = this.dims;
    const logMax = this.maxLogPop > 0 ? this.maxLogPop : 1;
    let navigational = 0;
    for (let r = 0; r < lex.count; r++) navigational = Math.max(navigational, lex.titleCover[r]);
    for (let i = 0; i < count; i++) {
      const o = ixs[i] * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += this.qvec[j] * this.emb[o + j];
      X[i * NFEAT + 1] = s;
      X[i * NFEAT + 3] = Math.log1p(this.popularity[ixs[i]]) / logMax;
      X[i * NFEAT + 4] = lexRank[i] > 0 && semRank[i] > 0 ? 1 : 0;
      X[i * NFEAT + 5] = X[i * NFEAT + 3] * X[i * NFEAT];
      X[i * NFEAT + 6] = X[i * NFEAT + 3] * Math.max(0, s);
      X[i * NFEAT + 8] = X[i * NFEAT + 3] * (1 - navigational);
    }
    return { ixs, X, lexRank, semRank, count };
  }

  /** Base (non-personal) score of candidate i under a mode. */
  private baseScore(c: Candidates, i: number, mode: SearchMode): number {
    const x = c.X;
    const o = i * NFEAT;
    // A popularity tie-breaker far below any score difference that matters.
    const tie = 1e-6 * x[o + 3];
    switch (mode) {
      case 'lexical':
        return c.lexRank[i] > 0 ? x[o] + tie : -Infinity;
      case 'semantic':
        return c.semRank[i] > 0 ? x[o + 1] + tie : -Infinity;
      case 'rrf':
        return x[o + 2] + tie;
      case 'hybrid':
        return this.blend ? this.blend.score(x, o) + tie : x[o + 2] + tie;
    }
  }

  /** Personal affinity in [0, 1]-ish per candidate from the user's history (tags, creator, embedding). */
  private affinity(history: readonly string[], c: Candidates): Float64Array {
    const out = new Float64Array(c.count);
    const recent = history.slice(-HISTORY_LIMIT);
    const tagCount = new Map<string, number>();
    const creatorCount = new Map<string, number>();
    const d = this.dims;
    const mean = new Float32Array(d);
    let n = 0;
    for (const id of recent) {
      const ix = this.ixById.get(id);
      if (ix === undefined) continue;
      n++;
      for (const t of this.tagSets[ix] ?? []) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
      for (const k of this.creatorKeys[ix] ?? []) creatorCount.set(k, (creatorCount.get(k) ?? 0) + 1);
      for (let j = 0; j < d; j++) mean[j] += this.emb[ix * d + j];
    }
    if (n === 0) return out;
    let norm = 0;
    for (let j = 0; j < d; j++) norm += mean[j] * mean[j];
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < c.count; i++) {
      const ix = c.ixs[i];
      const tags = this.tagSets[ix];
      let tagAff = 0;
      if (tags && tags.size > 0) {
        for (const t of tags) tagAff += (tagCount.get(t) ?? 0) / n;
        tagAff /= tags.size;
      }
      let creatorAff = 0;
      for (const k of this.creatorKeys[ix] ?? []) creatorAff = Math.max(creatorAff, (creatorCount.get(k) ?? 0) / n);
      let cos = 0;
      for (let j = 0; j < d; j++) cos += (mean[j] / norm) * this.emb[ix * d + j];
      out[i] = (tagAff + creatorAff + Math.max(0, cos)) / 3;
    }
    return out;
  }

  /** Searches: filtered, fused, optionally personalised (in-project tower; see searchAsync). */
  search(query: SearchQuery): SearchResult {
    return this.searchParsed(parseWith(SearchQuerySchema, query, ''), false);
  }

  /** search() for either encoder: with an external one the query is embedded over HTTP first. */
  async searchAsync(query: SearchQuery): Promise<SearchResult> {
    const p = parseWith(SearchQuerySchema, query, '');
    if (!this.external) return this.searchParsed(p, false);
    await this.flushEmbeddings();
    const v = await this.external.embedBatch([p.q]);
    if (v.length !== this.qvec.length) throw new UnavailableError(`external encoder returned ${v.length} dimensions, expected ${this.qvec.length}`);
    this.qvec.set(v);
    return this.searchParsed(p, true);
  }

  /**
   * Records that a user clicked `itemId` in the results of `q` (a search-click event): later searches
   * for the same normalised query rank it higher in rrf/hybrid modes. Bounded memory.
   */
  recordClick(q: string, itemId: string, weight = 1): void {
    if (!(weight > 0) || !Number.isFinite(weight)) {
      throw new ValidationError('click weight must be a finite number > 0', [{ path: 'weight', message: `got ${weight}` }]);
    }
    const key = tokenize(q).join(' ');
    if (!key) return;
    let m = this.clicks.get(key);
    if (!m) {
      if (this.clicks.size >= this.config.maxClickQueries) this.clicks.delete(this.clicks.keys().next().value!);
      this.clicks.set(key, (m = new Map()));
    } else {
      // Refresh recency (Map order is insertion order).
      this.clicks.delete(key);
      this.clicks.set(key, m);
    }
    if (!m.has(itemId) && m.size >= this.config.maxClicksPerQuery) {
      let minId = '';
      let min = Infinity;
      for (const [id, c] of m) if (c < min) [min, minId] = [c, id];
      m.delete(minId);
    }
    m.set(itemId, (m.get(itemId) ?? 0) + weight);
  }

  /** Feeds search-click events (type `search-click` with the query in `context.q` or `context.query`). */
  onEvents(events: readonly { type: string; itemId: string; context?: Record<string, unknown> }[]): number {
    let n = 0;
    for (const e of events) {
      if (e.type !== 'search-click') continue;
      const q = e.context?.q ?? e.context?.query;
      if (typeof q !== 'string') continue;
      this.recordClick(q, e.itemId);
      n++;
    }
    return n;
  }

  /** Range of the finite scores (so additive boosts mean the same in every mode). */
  private static spread(scores: Float64Array): number {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < scores.length; i++) {
      if (scores[i] === -Infinity) continue;
      lo = Math.min(lo, scores[i]);
      hi = Math.max(hi, scores[i]);
    }
    return hi > lo ? hi - lo : 1;
  }

  private searchParsed(p: z.output<typeof SearchQuerySchema>, queryEmbedded: boolean): SearchResult {
    const filtered = p.tags !== undefined || p.creator !== undefined;
    const filter = this.makeFilter(p.tags, p.creator);
    let c: Candidates;
    try {
      c = this.candidates(p.q, filter.allows, filtered, p.n, queryEmbedded, p.mode, filter.list);
    } finally {
      filter.release();
    }
    const scores = new Float64Array(c.count);
    for (let i = 0; i < c.count; i++) scores[i] = this.baseScore(c, i, p.mode);
    const spread = SearchIndex.spread(scores);
    const clicked = p.mode === 'rrf' || p.mode === 'hybrid' ? this.clicks.get(tokenize(p.q).join(' ')) : undefined;
    if (clicked && this.config.clickWeight > 0) {
      let most = 0;
      for (const v of clicked.values()) most = Math.max(most, v);
      const norm = Math.log1p(most);
      for (let i = 0; i < c.count; i++) {
        const k = clicked.get(this.items[c.ixs[i]]!.id);
        if (k !== undefined && scores[i] !== -Infinity) scores[i] += (this.config.clickWeight * spread * Math.log1p(k)) / norm;
      }
    }
    if (p.userHistory && p.userHistory.length > 0 && this.config.personalWeight > 0) {
      const aff = this.affinity(p.userHistory, c);
      for (let i = 0; i < c.count; i++) scores[i] += this.config.personalWeight * spread * aff[i];
    }
    const order = Array.from({ length: c.count }, (_, i) => i)
      .filter((i) => scores[i] !== -Infinity)
      .sort((a, b) => scores[b] - scores[a] || c.ixs[a] - c.ixs[b])
      .slice(0, p.n);
    return {
      itemIds: order.map((i) => this.items[c.ixs[i]]!.id),
      scores: order.map((i) => scores[i]),
      sources: order.map((i) => (c.lexRank[i] > 0 && c.semRank[i] > 0 ? 'lexical+semantic' : c.lexRank[i] > 0 ? 'lexical' : 'semantic')),
    };
  }

  /**
   * Fits the hybrid blend on labelled queries as a pairwise ranker over the retrieved candidates.
   * `relevant` is a set (binary) or a map item id → graded relevance (0 = not relevant).
   */
  fitBlend(
    queries: readonly { q: string; relevant: ReadonlySet<string> | ReadonlyMap<string, number>; weight?: number }[],
    opts: { l2?: number; iterations?: number; seed?: number; exclude?: readonly (typeof BLEND_FEATURES)[number][] } = {},
  ): LogisticBlend {
    const Xs: number[] = [];
    const rels: number[] = [];
    const offsets = [0];
    for (const { q, relevant } of queries) {
      const c = this.candidates(q);
      for (let i = 0; i < c.count; i++) {
        for (let f = 0; f < NFEAT; f++) Xs.push(c.X[i * NFEAT + f]);
        const id = this.items[c.ixs[i]]!.id;
        rels.push(relevant instanceof Map ? (relevant.get(id) ?? 0) : (relevant as ReadonlySet<string>).has(id) ? 1 : 0);
      }
      offsets.push(rels.length);
    }
    if (rels.length === 0) throw new ValidationError('no candidates to fit the blend on', [{ path: 'queries', message: 'empty' }]);
    const exclude = (opts.exclude ?? []).map((f) => BLEND_FEATURES.indexOf(f));
    const queryWeights = Float64Array.from(queries, (q) => q.weight ?? 1);
    const blend = LogisticBlend.fitPairwise(Float64Array.from(Xs), Float32Array.from(rels), Int32Array.from(offsets), NFEAT, { ...opts, exclude, queryWeights });
    this.blend = blend;
    return blend;
  }

  /**
   * Content-based candidates for a user or a seed set: items nearest (cosine) to the mean content
   * embedding of `seedIds`, excluding the seeds. This is the cold-start path: an item just ingested has
   * an embedding from its content alone and can be returned here at once (issue 8 item 6); with a
   * single seed it is "similar items by content". `allow` restricts the result (e.g. only fresh items).
   */
  contentNeighbours(
    seedIds: readonly string[],
    n: number,
    allow?: (itemId: string) => boolean,
    opts: { contentOnly?: boolean } = {},
  ): { itemIds: string[]; scores: number[] } {
    if (!Number.isInteger(n) || n < 1 || n > 5_000) {
      throw new ValidationError('n must be an integer in 1..5000', [{ path: 'n', message: `got ${n}` }]);
    }
    const d = this.dims;
    this.qvec.fill(0);
    const seeds = new Set<number>();
    for (const id of seedIds.slice(-HISTORY_LIMIT)) {
      const ix = this.ixById.get(id);
      if (ix === undefined) continue;
      seeds.add(ix);
      if (opts.contentOnly && !this.external) {
        // The seeds' text side only (no learned id offset): the same space a cold item lives in.
        const { key: _key, ...fields } = SearchIndex.fields(this.items[ix]!);
        this.encoder.embed(fields, this.scratch);
        for (let j = 0; j < d; j++) this.qvec[j] += this.scratch[j];
      } else {
        for (let j = 0; j < d; j++) this.qvec[j] += this.emb[ix * d + j];
      }
    }
    if (seeds.size === 0) return { itemIds: [], scores: [] };
    const filter = (ix: number): boolean => this.available[ix] === 1 && !seeds.has(ix) && (!allow || allow(this.items[ix]!.id));
    const out = this.semantic(n, filter, allow !== undefined || seeds.size > 0, n);
    const itemIds: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < out.count; i++) {
      itemIds.push(this.items[out.items[i]]!.id);
      scores.push(out.scores[i] / seeds.size);
    }
    return { itemIds, scores };
  }

  /** Autocomplete over titles, creators and tags, most popular first. */
  suggest(q: string, n = 10): Suggestion[] {
    return this.suggester.suggest(q, n);
  }
}
