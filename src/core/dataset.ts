/**
 * Interaction sequences in compressed-sparse-row form: the shape every offline model and the eval
 * harness share. Dense indexes (`userIx`, `itemIx`) are 0..n-1 slots into typed arrays; the client's
 * string ids live only in `userIds` / `itemIds`.
 */
export interface Sequences {
  numUsers: number;
  numItems: number;
  /** offsets: [numUsers + 1]; user u's items are items[offsets[u] .. offsets[u+1]), oldest first. */
  offsets: Int32Array;
  /** items: [numInteractions], item indexes in 0..numItems-1. */
  items: Int32Array;
}

/** A dataset as loaded: sequences plus the id maps and optional item side information. */
export interface InteractionDataset {
  name: string;
  seqs: Sequences;
  userIds: string[];
  itemIds: string[];
  /** Optional per-item tags (for diversity metrics and content models). */
  itemTags?: string[][];
  /** Optional per-item titles. */
  itemTitles?: string[];
  /** Optional per-item creators. */
  itemCreators?: (string | undefined)[];
  /** Optional per-interaction timestamps in ms, aligned with seqs.items (for temporal protocols). */
  timestampsMs?: Float64Array;
}

export function seqLength(s: Sequences, userIx: number): number {
  return s.offsets[userIx + 1] - s.offsets[userIx];
}

/** Builds CSR sequences from per-user arrays. */
export function sequencesFromLists(lists: ArrayLike<number>[], numItems: number): Sequences {
  const offsets = new Int32Array(lists.length + 1);
  for (let u = 0; u < lists.length; u++) offsets[u + 1] = offsets[u] + lists[u].length;
  const items = new Int32Array(offsets[lists.length]);
  for (let u = 0; u < lists.length; u++) items.set(lists[u] as ArrayLike<number>, offsets[u]);
  return { numUsers: lists.length, numItems, offsets, items };
}
