/**
 * The content tower as a candidate source for the recommendation surfaces (issue 8 item 6: cold-start
 * items). Items nearest to the request's seed items (the user's recent history for home, the anchor
 * item for similar) in content-embedding space. An item ingested a second ago, with no interactions,
 * already has a content embedding, so it can be proposed at once — the path collaborative sources lack.
 *
 * The engine and the search index number items independently; the adapter maps through ids.
 */
import type { CandidateBuffer, CandidateContext, CandidateSource } from '../candidates/types.js';
import type { SearchIndex } from './search-index.js';

/** The content-neighbour query of a search index (in process, or its worker-thread client). */
export type ContentNeighbours = Pick<SearchIndex, 'contentNeighbours'>;

export class ContentCandidateSource implements CandidateSource {
  constructor(
    private readonly search: ContentNeighbours,
    /** Engine item ix → id, and back (undefined for items the engine does not know yet). */
    private readonly idOfEngineIx: (ix: number) => string | undefined,
    private readonly engineIxOfId: (id: string) => number | undefined,
    readonly name = 'content',
  ) {}

  candidates(ctx: CandidateContext, n: number, out: CandidateBuffer): void {
    out.count = 0;
    const k = Math.min(n, out.capacity);
    if (k <= 0 || ctx.seedCount === 0) return;
    const seeds: string[] = [];
    for (let i = 0; i < ctx.seedCount; i++) {
      const id = this.idOfEngineIx(ctx.seedItems[i]);
      if (id !== undefined) seeds.push(id);
    }
    if (seeds.length === 0) return;
    const allow = (id: string): boolean => {
      const ix = this.engineIxOfId(id);
      return ix !== undefined && ctx.filter.allows(ix);
    };
    const r = this.search.contentNeighbours(seeds, k, allow);
    for (let i = 0; i < r.itemIds.length && out.count < k; i++) {
      out.items[out.count] = this.engineIxOfId(r.itemIds[i])!;
      out.scores[out.count++] = r.scores[i];
    }
  }
}
