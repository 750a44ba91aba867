/** Search: the public door of src/search (hybrid lexical + semantic search, autocomplete). */
export { SearchIndex, SearchItemSchema, SearchQuerySchema, SearchMode, BLEND_FEATURES } from './search-index.js';
export type { SearchItem, SearchQuery, SearchResult, SearchSource, SearchConfigInput } from './search-index.js';
export { LexicalIndex } from './lexical.js';
export { ContentEncoder, trainEncoder, cooccurrencePairs } from './encoder.js';
export { reciprocalRankFusion, LogisticBlend } from './fusion.js';
export { ContentCandidateSource } from './content-source.js';
export { ExternalEncoder, type TextEmbedder } from './external.js';
export { buildSearchIndexFromStore } from './from-store.js';
export { searchRouteSpecs } from './routes.js';
export type { Suggestion } from './suggest.js';
