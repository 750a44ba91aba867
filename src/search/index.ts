/** Search: the public door of src/search (hybrid lexical + semantic search, autocomplete). */
export { SearchIndex, SearchItemSchema, SearchQuerySchema, SearchMode, BLEND_FEATURES } from './search-index.js';
export type { SearchItem, SearchQuery, SearchResult, SearchSource, SearchConfigInput } from './search-index.js';
export { LexicalIndex } from './lexical.js';
export { ContentEncoder, trainEncoder, cooccurrencePairs } from './encoder.js';
export { reciprocalRankFusion, LogisticBlend } from './fusion.js';
export type { Suggestion } from './suggest.js';
