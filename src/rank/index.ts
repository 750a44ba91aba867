/**
 * The rank stage's public door: re-ranking of a candidate pool into a page (diversity, creator caps,
 * freshness, tag rules, de-duplication).
 */
export { Reranker, rerankActive, validateRerankConfig, type ItemEmbeddings, type RerankConfig, type RerankResult, type TagRule } from './rerank.js';
export {
  MultiObjectiveRanker,
  RankFeatures,
  RANK_FEATURES,
  NUM_RANK_FEATURES,
  DEFAULT_RANKER_CONFIG,
  type RankerConfig,
  type RankExamples,
  type PoolView,
} from './ranker.js';
export { buildRankExamples, lastEpisodes, validateRanker, type Episode, type PoolProvider, type RankTarget } from './train.js';
