/**
 * The candidates stage's public door: candidate sources (trending, fresh, co-occurrence, creator), the
 * per-request exclusion filter, seed selection and the merger. Sources propose; ranking happens later.
 */
export { CandidateBuffer, type CandidateContext, type CandidateFilter, type CandidateSource } from './types.js';
export { TopK } from './topk.js';
export { RequestFilter, MAX_EXCLUDED_TAGS } from './filter.js';
export { TrendingSource } from './trending.js';
export { FreshSource, type FreshConfig } from './fresh.js';
export { CooccurrenceIndex, CoocSource, SparseRow, type CoocConfig } from './cooc.js';
export { CreatorSource } from './creator.js';
export { EmbeddingSource } from './embedding.js';
export { seedsFromHistory, singleSeed, type SeedConfig } from './seeds.js';
export { Merger, MAX_TIERS, type MergeTier, type MergedList } from './merger.js';
