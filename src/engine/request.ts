/**
 * What the engine accepts as a recommendation request: the library-level check behind every caller (the
 * HTTP layer validates its own query first; library users and the CLI reach the engine directly). Each
 * failure is a ValidationError naming the field.
 */
import { ValidationError } from '../core/errors.js';
import { LIMITS } from '../core/schemas.js';
import { MAX_EXCLUDED_TAGS } from '../candidates/index.js';
import type { RecommendRequest } from './types.js';
import type { ServedSurface } from './tiers.js';

export const SERVED_SURFACES: ReadonlySet<string> = new Set<ServedSurface>(['home', 'next', 'similar', 'trending', 'fresh']);
/** Bound on the caller's exclude and excludeCreators lists. */
export const MAX_EXCLUDE = 1_000;

const invalid = (path: string, message: string, summary = `${path} ${message}`): never => {
  throw new ValidationError(summary, [{ path, message }]);
};

/** Throws a ValidationError for a request the engine cannot answer; narrows the surface. */
export function validateRecommendRequest(req: RecommendRequest): asserts req is RecommendRequest & { surface: ServedSurface } {
  const { surface, n } = req;
  if (!SERVED_SURFACES.has(surface)) {
    invalid('surface', `must be one of ${[...SERVED_SURFACES].join(', ')}`, `surface '${surface}' is not served by the recommendation engine`);
  }
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.maxN) invalid('n', `must be an integer in 1..${LIMITS.maxN}`);
  if (req.exclude && req.exclude.length > MAX_EXCLUDE) invalid('exclude', `at most ${MAX_EXCLUDE} ids`, `exclude holds at most ${MAX_EXCLUDE} ids`);
  if (req.excludeCreators && req.excludeCreators.length > MAX_EXCLUDE) {
    invalid('excludeCreators', `at most ${MAX_EXCLUDE} ids`, `excludeCreators holds at most ${MAX_EXCLUDE} ids`);
  }
  if (req.diversity !== undefined && !(req.diversity >= 0 && req.diversity <= 1)) {
    invalid('diversity', `must be a number in [0, 1], got ${req.diversity}`, 'diversity must be in [0, 1]');
  }
  if (req.excludeTags && req.excludeTags.length > MAX_EXCLUDED_TAGS) {
    invalid('excludeTags', `at most ${MAX_EXCLUDED_TAGS} tags`, `excludeTags holds at most ${MAX_EXCLUDED_TAGS} tags`);
  }
  if (surface === 'similar' && req.itemId === undefined) invalid('itemId', 'required for surface similar', 'surface similar needs itemId');
}
