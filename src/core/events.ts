/**
 * Which feedback counts as positive, decided once. Gorse declares positive feedback types in its config;
 * ours is the config's `eventWeights` map (defaults from schemas.ts merged with the file/env overrides):
 * an event type is positive when its weight is > 0, negative when < 0, and ignored when 0 or when the
 * type is not declared at all. Training loaders, the search index, the ranker's labels, the synthetic
 * dataset and the online features all ask these two functions instead of indexing the map themselves,
 * so an undeclared type can never be positive for training and neutral for serving.
 */
export type EventWeights = Readonly<Record<string, number>>;

/** The reward weight of an event type; undeclared types weigh 0 (ignored), as in the online features. */
export function eventWeight(type: string, weights: EventWeights): number {
  const w = Object.hasOwn(weights, type) ? weights[type] : undefined;
  return typeof w === 'number' && Number.isFinite(w) ? w : 0;
}

/** True when an event of this type is positive feedback (weight > 0). */
export function isPositive(type: string, weights: EventWeights): boolean {
  return eventWeight(type, weights) > 0;
}
