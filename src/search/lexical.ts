/**
 * The lexical half of search: an in-memory BM25F index over four item fields (title, text, tags,
 * creator) with typo tolerance, prefix completion of the last query word and incremental updates.
 *
 * Scoring — BM25F (Robertson, Zaragoza & Taylor 2004, "Simple BM25 extension to multiple weighted
 * fields"; Zaragoza et al. 2004 §3): per-field term frequencies are length-normalised per field and
 * combined with field boosts *before* the saturation, so a word in the title and the text does not count
 * twice at full weight:
 *     tf~(t, d) = Σ_f boost_f · tf_f / (1 − b_f + b_f · len_f / avgLen_f)
 *     score     = Σ_t idf(t) · tf~ / (k1 + tf~),   idf = ln(1 + (N − df + 0.5) / (df + 0.5))
 * Deviation: each query word contributes the best of its variants (exact, typo, prefix), the variant
 * weighted by `fuzzyWeight^edits` or `prefixWeight`; and a coordination factor (fraction of query words
 * matched, as in Lucene's classic similarity) favours documents that match every word.
 *
 * Typo tolerance — symmetric delete (SymSpell, Garbe 2012): every dictionary term is indexed under all
 * strings reachable by deleting ≤ 1 character (≤ 2 for terms of ≥ 8 characters); a query word's own
 * deletions are looked up there and candidates are verified with a bounded optimal-string-alignment
 * (Damerau–Levenshtein with adjacent transpositions) distance. Budget: 1 edit for words of ≥ 4
 * characters, 2 for ≥ 8, none below (short words have too many neighbours).
 *
 * Why our own index and not a library (measured on ML-1M titles with one injected typo and on a
 * 100,000-item synthetic catalog; see docs/benchmarks.md ## Search): SQLite FTS5 is fast (p99 10 ms at
 * 100k) but has no typo tolerance — only 73.6% of typo'd titles reach the top 3 even with prefix
 * queries; minisearch has fuzzy + prefix (96.5% top-3) but its fuzzy search walks the whole radix tree
 * (p50 25 ms, p99 77 ms at 100k). The deletion dictionary makes the typo lookup independent of
 * vocabulary size, and typed-array postings keep the 100k-item scan cheap.
 *
 * Storage: documents are dense slots `ix` chosen by the caller (the same ix as the ANN index). Postings
 * are per-term growable typed arrays of (ix, generation, tf per field). Removing a document bumps its
 * generation, so its postings die without being searched for; a term's postings are compacted once half
 * of them are dead. Re-adding the same ix after a remove is therefore safe.
 */
import { z } from 'zod';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import { TopK } from '../candidates/topk.js';
import { CandidateBuffer } from '../candidates/types.js';
import { endsInWord, isUnspacedToken, tokenize } from './text.js';

export const FIELDS = ['title', 'text', 'tags', 'creator'] as const;
export type Field = (typeof FIELDS)[number];
const NF = FIELDS.length;

const PerField = z.strictObject({
  title: z.number().min(0).max(100),
  text: z.number().min(0).max(100),
  tags: z.number().min(0).max(100),
  creator: z.number().min(0).max(100),
});

export const LexicalConfigSchema = z.strictObject({
  /** Field boosts (BM25F weights). Titles and creators are what people type; tags are curated. */
  boosts: PerField.default({ title: 3, text: 1, tags: 2, creator: 2 }),
  /** Length normalisation per field: short fields (tags, creator) barely vary in length. */
  b: z
    .strictObject({
      title: z.number().min(0).max(1),
      text: z.number().min(0).max(1),
      tags: z.number().min(0).max(1),
      creator: z.number().min(0).max(1),
    })
    .default({ title: 0.6, text: 0.75, tags: 0.3, creator: 0.3 }),
  k1: z.number().min(0).max(10).default(1.2),
  /** A variant with e edits scores fuzzyWeight^e of an exact match. */
  fuzzyWeight: z.number().min(0).max(1).default(0.6),
  /** A prefix completion of the last word scores this fraction of an exact match. */
  prefixWeight: z.number().min(0).max(1).default(0.8),
  /** Shortest last word that is expanded as a prefix. */
  minPrefixLength: z.number().int().min(1).max(10).default(2),
  /** Most dictionary terms one query word may expand to (typo + prefix variants). */
  maxExpansions: z.number().int().min(1).max(1000).default(32),
  /** Exponent of the coordination factor (matched words / query words); 0 disables it. */
  coordination: z.number().min(0).max(4).default(1),
  /**
   * Query-independent prior (static rank, e.g. popularity; Richardson et al. 2006): a document's score is
   * multiplied by 1 + priorWeight · prior / maxPrior. Small, so it orders near-ties (every "comedy" has
   * the same BM25 for the query "comedy") without overriding relevance.
   */
  priorWeight: z.number().min(0).max(1).default(0.02),
});
export type LexicalConfigInput = z.input<typeof LexicalConfigSchema>;
export type LexicalConfig = z.output<typeof LexicalConfigSchema>;

/** The text of one document, by field. */
export interface LexicalDoc {
  title?: string;
  text?: string;
  tags?: readonly string[];
  creator?: string;
}

/** Bounds on work per request (TigerBeetle-style limits). */
export const MAX_QUERY_TOKENS = 32;
export const MAX_QUERY_LENGTH = 1_000;
/** Most dictionary terms scanned for one prefix before picking the `maxExpansions` most frequent. */
const MAX_PREFIX_SCAN = 4_096;

/** Edit budget of a query word of `len` characters. */
export function editBudget(len: number): number {
  return len >= 8 ? 2 : len >= 4 ? 1 : 0;
}

/** How deep the deletion neighbourhood of a dictionary term goes (see the completeness note above). */
function dictDeleteDepth(len: number): number {
  return len >= 8 ? 2 : len >= 3 ? 1 : 0;
}

/** All distinct strings obtained from `s` by deleting 1..depth characters (code units; terms are folded). */
export function deletions(s: string, depth: number, out: Set<string> = new Set()): Set<string> {
  if (depth <= 0 || s.length <= 1) return out;
  for (let i = 0; i < s.length; i++) {
    const d = s.slice(0, i) + s.slice(i + 1);
    if (out.has(d)) continue;
    out.add(d);
    deletions(d, depth - 1, out);
  }
  return out;
}

/**
 * Optimal-string-alignment distance between a and b, or max + 1 as soon as it must exceed max.
 * rows: three reusable Int32Array rows of length ≥ b.length + 1.
 */
export function boundedOsa(a: string, b: string, max: number, rows?: [Int32Array, Int32Array, Int32Array]): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  const r = rows ?? [new Int32Array(lb + 1), new Int32Array(lb + 1), new Int32Array(lb + 1)];
  let prev2 = r[0];
  let prev = r[1];
  let cur = r[2];
  for (let j = 0; j <= lb; j++) prev[j] = j;
  for (let i = 1; i <= la; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= lb; j++) {
      const cb = b.charCodeAt(j - 1);
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca === cb ? 0 : 1));
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) v = Math.min(v, prev2[j - 2] + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb] <= max ? prev[lb] : max + 1;
}

/** One term's postings: parallel growable arrays. */
class Postings {
  len = 0;
  dead = 0;
  /** ixs: [cap] document slots. */
  ixs = new Int32Array(4);
  /** gens: [cap] document generation at insertion; a posting is live iff it equals the doc's current one. */
  gens = new Uint32Array(4);
  /** tfs: [cap, NF] term frequency per field (saturating at 65535). */
  tfs = new Uint16Array(4 * NF);
  /** Live documents containing the term. */
  df = 0;

  push(ix: number, gen: number, tf: Uint16Array, tfOff: number): void {
    if (this.len === this.ixs.length) {
      const cap = this.len * 2;
      const ixs = new Int32Array(cap);
      ixs.set(this.ixs);
      const gens = new Uint32Array(cap);
      gens.set(this.gens);
      const tfs = new Uint16Array(cap * NF);
      tfs.set(this.tfs);
      this.ixs = ixs;
      this.gens = gens;
      this.tfs = tfs;
    }
    const k = this.len++;
    this.ixs[k] = ix;
    this.gens[k] = gen;
    for (let f = 0; f < NF; f++) this.tfs[k * NF + f] = tf[tfOff + f];
    this.df++;
  }

  /** Drops postings whose generation no longer matches. */
  compact(docGen: Uint32Array): void {
    let w = 0;
    for (let r = 0; r < this.len; r++) {
      if (this.gens[r] !== docGen[this.ixs[r]]) continue;
      if (w !== r) {
        this.ixs[w] = this.ixs[r];
        this.gens[w] = this.gens[r];
        for (let f = 0; f < NF; f++) this.tfs[w * NF + f] = this.tfs[r * NF + f];
      }
      w++;
    }
    this.len = w;
    this.dead = 0;
  }
}

/** Result of a lexical search: best first. */
export interface LexicalHits {
  /** ixs: [count] document slots. */
  ixs: Int32Array;
  /** scores: [count] BM25F scores (> 0). */
  scores: Float32Array;
  /**
   * titleCover: [count] query words found in the title (exactly or as a variant) divided by
   * max(query words, title words): 1 when the query *is* the title up to typos — the known-item signal.
   */
  titleCover: Float32Array;
  count: number;
}

/** Which documents may be returned; absent = all live documents. */
export type IxFilter = (ix: number) => boolean;

export class LexicalIndex {
  readonly config: LexicalConfig;
  private readonly boost: Float64Array;
  private readonly bField: Float64Array;

  // --- dictionary ---
  private readonly termIx = new Map<string, number>();
  private readonly terms: string[] = [];
  private readonly postings: Postings[] = [];
  /** Deletion neighbourhood: deleted string → term ixs. */
  private readonly deletes = new Map<string, number[]>();
  /** Term ixs sorted by term, for prefix ranges; rebuilt lazily after new terms arrive. */
  private sorted = new Int32Array(0);
  private sortedDirty = false;

  // --- documents (slot ix) ---
  private capacity = 0;
  private live = new Uint8Array(0);
  private docGen = new Uint32Array(0);
  /** fieldLen: [capacity, NF] tokens per field. */
  private fieldLen = new Float32Array(0);
  /** Distinct term ixs of each live document (for removal and df bookkeeping). */
  private docTerms: (Int32Array | undefined)[] = [];
  private readonly fieldLenSum = new Float64Array(NF);
  /**
   * fieldWeight: [capacity, NF] cached boost_f / (1 − b_f + b_f · len_f / avgLen_f), so the hot loop
   * multiplies instead of dividing. Valid for the average lengths in `cachedAvg`; rebuilt (O(N)) when
   * an average drifts by more than 1%.
   */
  private fieldWeight = new Float32Array(0);
  private readonly cachedAvg = new Float64Array(NF);
  /** prior: [capacity] query-independent document prior (≥ 0); maxPrior its running maximum. */
  private prior = new Float32Array(0);
  private maxPrior = 0;
  private liveCount = 0;

  // --- per-query scratch (grown with capacity; never allocated per posting) ---
  private acc = new Float32Array(0);
  private best = new Float32Array(0);
  private matched = new Uint8Array(0);
  private titleHit = new Uint8Array(0);
  private titleMatched = new Uint8Array(0);
  private touched = new Int32Array(0);
  private tokTouched = new Int32Array(0);
  private readonly osaRows: [Int32Array, Int32Array, Int32Array] = [new Int32Array(64), new Int32Array(64), new Int32Array(64)];
  private topk = new TopK(1);
  private topkCap = 1;

  constructor(config: LexicalConfigInput = {}) {
    const r = LexicalConfigSchema.safeParse(config);
    if (!r.success) {
      throw new ValidationError(
        'invalid lexical index config',
        issuesFromSchema(r.error.issues, 'lexical'),
      );
    }
    this.config = r.data;
    this.boost = Float64Array.from(FIELDS, (f) => this.config.boosts[f]);
    this.bField = Float64Array.from(FIELDS, (f) => this.config.b[f]);
  }

  /** Number of live documents. */
  get size(): number {
    return this.liveCount;
  }

  /** Number of distinct terms ever seen (the typo dictionary). */
  get vocabularySize(): number {
    return this.terms.length;
  }

  has(ix: number): boolean {
    return ix >= 0 && ix < this.capacity && this.live[ix] === 1;
  }

  private ensureCapacity(ix: number): void {
    if (ix < this.capacity) return;
    let cap = Math.max(16, this.capacity);
    while (cap <= ix) cap *= 2;
    const grow = <T extends Uint8Array | Uint32Array | Float32Array | Int32Array>(a: T, n: number, make: (m: number) => T): T => {
      const b = make(n);
      b.set(a as never);
      return b;
    };
    this.live = grow(this.live, cap, (m) => new Uint8Array(m));
    this.docGen = grow(this.docGen, cap, (m) => new Uint32Array(m));
    this.fieldLen = grow(this.fieldLen, cap * NF, (m) => new Float32Array(m));
    this.prior = grow(this.prior, cap, (m) => new Float32Array(m));
    this.fieldWeight = grow(this.fieldWeight, cap * NF, (m) => new Float32Array(m));
    this.acc = new Float32Array(cap);
    this.best = new Float32Array(cap);
    this.matched = new Uint8Array(cap);
    this.titleHit = new Uint8Array(cap);
    this.titleMatched = new Uint8Array(cap);
    this.touched = new Int32Array(cap);
    this.tokTouched = new Int32Array(cap);
    this.capacity = cap;
  }

  private internTerm(t: string): number {
    let id = this.termIx.get(t);
    if (id !== undefined) return id;
    id = this.terms.length;
    this.termIx.set(t, id);
    this.terms.push(t);
    this.postings.push(new Postings());
    this.sortedDirty = true;
    if (!isUnspacedToken(t)) {
      for (const d of deletions(t, dictDeleteDepth(t.length))) {
        const list = this.deletes.get(d);
        if (list) list.push(id);
        else this.deletes.set(d, [id]);
      }
    }
    return id;
  }

  /** Indexes (or re-indexes) document slot `ix`. */
  add(ix: number, doc: LexicalDoc): void {
    if (!Number.isInteger(ix) || ix < 0 || ix > 0x7ffffffe) {
      throw new ValidationError('document ix must be a non-negative integer', [{ path: 'ix', message: `got ${ix}` }]);
    }
    if (this.has(ix)) this.remove(ix);
    this.ensureCapacity(ix);
    const fieldTokens: string[][] = [
      tokenize(doc.title ?? ''),
      tokenize(doc.text ?? ''),
      (doc.tags ?? []).flatMap((t) => tokenize(t)),
      tokenize(doc.creator ?? ''),
    ];
    // Per-document term → tf per field, in a small map (documents are short; this is not a hot path).
    const tf = new Map<number, number>();
    const tfRows: number[] = [];
    for (let f = 0; f < NF; f++) {
      const toks = fieldTokens[f];
      this.fieldLen[ix * NF + f] = toks.length;
      this.fieldLenSum[f] += toks.length;
      for (const t of toks) {
        const id = this.internTerm(t);
        let row = tf.get(id);
        if (row === undefined) {
          row = tfRows.length / NF;
          tf.set(id, row);
          for (let g = 0; g < NF; g++) tfRows.push(0);
        }
        if (tfRows[row * NF + f] < 65535) tfRows[row * NF + f]++;
      }
    }
    const rowTf = Uint16Array.from(tfRows);
    const gen = this.docGen[ix];
    const distinct = new Int32Array(tf.size);
    let k = 0;
    for (const [id, row] of tf) {
      this.postings[id].push(ix, gen, rowTf, row * NF);
      distinct[k++] = id;
    }
    this.docTerms[ix] = distinct;
    this.live[ix] = 1;
    this.liveCount++;
    this.setFieldWeights(ix);
  }

  private setFieldWeights(ix: number): void {
    for (let f = 0; f < NF; f++) {
      const avg = this.cachedAvg[f] > 0 ? this.cachedAvg[f] : 1;
      this.fieldWeight[ix * NF + f] = this.boost[f] / (1 - this.bField[f] + (this.bField[f] * this.fieldLen[ix * NF + f]) / avg);
    }
  }

  /** Re-derives the cached per-document field weights when an average field length moved > 1%. */
  private refreshFieldWeights(): void {
    const N = this.liveCount;
    let stale = false;
    for (let f = 0; f < NF; f++) {
      const avg = this.fieldLenSum[f] > 0 ? this.fieldLenSum[f] / N : 1;
      if (Math.abs(avg - this.cachedAvg[f]) > 0.01 * avg) stale = true;
    }
    if (!stale) return;
    for (let f = 0; f < NF; f++) this.cachedAvg[f] = this.fieldLenSum[f] > 0 ? this.fieldLenSum[f] / N : 1;
    for (let ix = 0; ix < this.capacity; ix++) if (this.live[ix] === 1) this.setFieldWeights(ix);
  }

  /** Sets the query-independent prior of slot `ix` (any finite value ≥ 0, e.g. log popularity). */
  setPrior(ix: number, value: number): void {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new ValidationError('prior must be a finite number >= 0', [{ path: 'prior', message: `got ${value}` }]);
    }
    this.ensureCapacity(ix);
    this.prior[ix] = value;
    if (value > this.maxPrior) this.maxPrior = value;
  }

  /** Removes document slot `ix`; returns false when it was not indexed. */
  remove(ix: number): boolean {
    if (!this.has(ix)) return false;
    this.live[ix] = 0;
    this.docGen[ix] = (this.docGen[ix] + 1) >>> 0;
    this.liveCount--;
    for (let f = 0; f < NF; f++) this.fieldLenSum[f] -= this.fieldLen[ix * NF + f];
    const ts = this.docTerms[ix];
    if (ts) {
      for (let i = 0; i < ts.length; i++) {
        const p = this.postings[ts[i]];
        p.df--;
        p.dead++;
        if (p.dead * 2 > p.len) p.compact(this.docGen);
      }
    }
    this.docTerms[ix] = undefined;
    return true;
  }

  private ensureSorted(): void {
    if (!this.sortedDirty) return;
    const ids = new Int32Array(this.terms.length);
    for (let i = 0; i < ids.length; i++) ids[i] = i;
    const terms = this.terms;
    ids.sort((a, b) => (terms[a] < terms[b] ? -1 : terms[a] > terms[b] ? 1 : 0));
    this.sorted = ids;
    this.sortedDirty = false;
  }

  /**
   * Does now the lazy O(N) / O(V log V) upkeep the next search would do (sorted dictionary for prefixes,
   * cached field weights), e.g. right after a bulk build, off the request path.
   */
  prepare(): void {
    this.ensureSorted();
    if (this.liveCount > 0) this.refreshFieldWeights();
  }

  /** Dictionary terms within the edit budget of `tok` (excluding tok itself), with their distance. */
  typoVariants(tok: string): Array<{ term: string; edits: number }> {
    return this.fuzzy(tok).map(([id, e]) => ({ term: this.terms[id], edits: e }));
  }

  private fuzzy(tok: string): Array<[number, number]> {
    const budget = editBudget(tok.length);
    if (budget === 0 || isUnspacedToken(tok)) return [];
    const keys = deletions(tok, budget);
    keys.add(tok);
    const seen = new Set<number>();
    const out: Array<[number, number]> = [];
    if (this.osaRows[0].length <= tok.length + budget + 1) {
      const n = tok.length + budget + 2;
      this.osaRows[0] = new Int32Array(n);
      this.osaRows[1] = new Int32Array(n);
      this.osaRows[2] = new Int32Array(n);
    }
    const consider = (id: number): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const term = this.terms[id];
      if (term === tok || this.postings[id].df <= 0) return;
      if (term.length + 1 >= this.osaRows[0].length) return;
      const e = boundedOsa(tok, term, budget, this.osaRows);
      if (e <= budget) out.push([id, e]);
    };
    for (const k of keys) {
      const direct = this.termIx.get(k);
      if (direct !== undefined) consider(direct);
      const list = this.deletes.get(k);
      if (list) for (const id of list) consider(id);
    }
    return out;
  }

  private prefixVariants(tok: string): Array<[number, number]> {
    if (tok.length < this.config.minPrefixLength || isUnspacedToken(tok)) return [];
    this.ensureSorted();
    const s = this.sorted;
    const terms = this.terms;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (terms[s[mid]] < tok) lo = mid + 1;
      else hi = mid;
    }
    const out: Array<[number, number]> = [];
    for (let i = lo; i < s.length && out.length < MAX_PREFIX_SCAN; i++) {
      const t = terms[s[i]];
      if (!t.startsWith(tok)) break;
      if (t !== tok && this.postings[s[i]].df > 0) out.push([s[i], this.postings[s[i]].df]);
    }
    return out;
  }

  /** The variants a query word is matched through: [termIx, weight], at most maxExpansions + 1. */
  private variants(tok: string, isPrefix: boolean): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const exact = this.termIx.get(tok);
    if (exact !== undefined && this.postings[exact].df > 0) out.push([exact, 1]);
    const extra: Array<[number, number, number]> = []; // [termIx, weight, df]
    for (const [id, e] of this.fuzzy(tok)) extra.push([id, Math.pow(this.config.fuzzyWeight, e), this.postings[id].df]);
    if (isPrefix) {
      const w = this.config.prefixWeight;
      for (const [id, df] of this.prefixVariants(tok)) extra.push([id, w, df]);
    }
    extra.sort((a, b) => b[1] - a[1] || b[2] - a[2] || a[0] - b[0]);
    const seen = new Set<number>(exact !== undefined ? [exact] : []);
    for (const [id, w] of extra) {
      if (out.length > this.config.maxExpansions) break;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push([id, w]);
    }
    return out;
  }

  /** Parses a query into distinct words (bounded), marking whether the last one is a prefix. */
  static parseQuery(q: string): { tokens: string[]; lastIsPrefix: boolean } {
    if (q.length > MAX_QUERY_LENGTH) {
      throw new ValidationError(`query longer than ${MAX_QUERY_LENGTH} characters`, [{ path: 'q', message: `length ${q.length}` }]);
    }
    const all = tokenize(q);
    const tokens = [...new Set(all)].slice(0, MAX_QUERY_TOKENS);
    const last = all[all.length - 1];
    const lastIsPrefix = all.length > 0 && endsInWord(q) && tokens.includes(last);
    if (lastIsPrefix && tokens[tokens.length - 1] !== last) {
      tokens.splice(tokens.indexOf(last), 1);
      tokens.push(last);
    }
    return { tokens, lastIsPrefix };
  }

  /**
   * Top-n documents for query `q` by BM25F with typo and prefix variants. `filter` restricts the
   * result (applied while selecting, so n results come back whenever n matches exist).
   */
  search(q: string, n: number, filter?: IxFilter): LexicalHits {
    if (!Number.isInteger(n) || n < 1 || n > 10_000) {
      throw new ValidationError('n must be an integer in 1..10000', [{ path: 'n', message: `got ${n}` }]);
    }
    const { tokens, lastIsPrefix } = LexicalIndex.parseQuery(q);
    const empty: LexicalHits = { ixs: new Int32Array(0), scores: new Float32Array(0), titleCover: new Float32Array(0), count: 0 };
    if (tokens.length === 0 || this.liveCount === 0) return empty;

    const N = this.liveCount;
    this.refreshFieldWeights();
    const fw = this.fieldWeight;
    const { k1 } = this.config;
    const acc = this.acc;
    const best = this.best;
    const matched = this.matched;
    const titleHit = this.titleHit;
    const titleMatched = this.titleMatched;
    const touched = this.touched;
    const tokTouched = this.tokTouched;
    const docGen = this.docGen;
    let nTouched = 0;

    for (let ti = 0; ti < tokens.length; ti++) {
      const vars = this.variants(tokens[ti], lastIsPrefix && ti === tokens.length - 1);
      // When the word itself is in the dictionary, a completion or correction may not outrank it:
      // variants' idf is capped at the exact term's ("the" must not turn into "theodore").
      const exactId = this.termIx.get(tokens[ti]);
      const exactDf = exactId !== undefined ? this.postings[exactId].df : 0;
      const idfCap = exactDf > 0 ? Math.log(1 + (N - exactDf + 0.5) / (exactDf + 0.5)) : Infinity;
      let nTok = 0;
      for (const [id, weight] of vars) {
        const p = this.postings[id];
        if (p.df <= 0) continue;
        const idf = Math.min(idfCap, Math.log(1 + (N - p.df + 0.5) / (p.df + 0.5)));
        const w = weight * idf;
        const { ixs, gens, tfs } = p;
        for (let k = 0; k < p.len; k++) {
          const ix = ixs[k];
          if (gens[k] !== docGen[ix]) continue;
          let tfw = 0;
          const o = ix * NF;
          for (let f = 0; f < NF; f++) {
            const tf = tfs[k * NF + f];
            if (tf === 0) continue;
            tfw += tf * fw[o + f];
          }
          const s = (w * tfw) / (k1 + tfw);
          if (best[ix] === 0) tokTouched[nTok++] = ix;
          if (s > best[ix]) best[ix] = s;
          if (tfs[k * NF] > 0) titleHit[ix] = 1; // field 0 = title
        }
      }
      for (let j = 0; j < nTok; j++) {
        const ix = tokTouched[j];
        if (acc[ix] === 0) touched[nTouched++] = ix;
        acc[ix] += best[ix];
        matched[ix]++;
        titleMatched[ix] += titleHit[ix];
        titleHit[ix] = 0;
        best[ix] = 0;
      }
    }

    const k = Math.min(n, nTouched);
    if (k === 0) {
      for (let j = 0; j < nTouched; j++) titleMatched[touched[j]] = 0;
      return empty;
    }
    if (this.topkCap < k) {
      this.topkCap = Math.max(k, this.topkCap * 2);
      this.topk = new TopK(this.topkCap);
    }
    const heap = this.topk;
    heap.reset(k);
    const coord = this.config.coordination;
    const nq = tokens.length;
    const priorScale = this.maxPrior > 0 ? this.config.priorWeight / this.maxPrior : 0;
    const prior = this.prior;
    for (let j = 0; j < nTouched; j++) {
      const ix = touched[j];
      const s = (coord > 0 ? acc[ix] * Math.pow(matched[ix] / nq, coord) : acc[ix]) * (1 + priorScale * prior[ix]);
      acc[ix] = 0;
      matched[ix] = 0;
      if (filter && !filter(ix)) continue;
      heap.push(ix, s);
    }
    const out = new CandidateBuffer(heap.count);
    heap.drainInto(out);
    const titleCover = new Float32Array(out.count);
    for (let i = 0; i < out.count; i++) {
      const ix = out.items[i];
      titleCover[i] = titleMatched[ix] / Math.max(nq, this.fieldLen[ix * NF]);
    }
    for (let j = 0; j < nTouched; j++) titleMatched[touched[j]] = 0;
    return { ixs: out.items, scores: out.scores, titleCover, count: out.count };
  }
}
