/**
 * Autocomplete for the search box: completions of what has been typed so far among item titles,
 * creators and tags, most popular first.
 *
 * Every entry is reachable from the start of any of its words ("mat" finds "The Matrix"): the keys are
 * the folded word-suffixes of the entry text, kept in one sorted array and found by binary search
 * (a static sorted-suffix index; cheaper in memory than a trie in JS, and the range scan is bounded).
 * Tags and creators are aggregated over items (their popularity is the sum over their items), titles
 * are per item. Updates go to a small unsorted delta that is merged into the sorted array when it
 * grows past a bound, so adding an item never re-sorts the catalog on the request path.
 */
import { ValidationError } from '../core/errors.js';
import { tokenize } from './text.js';

export type SuggestionKind = 'title' | 'creator' | 'tag';

export interface Suggestion {
  text: string;
  kind: SuggestionKind;
  /** For titles: the item. */
  itemId?: string;
  /** Popularity used for ordering (summed over items for creators and tags). */
  popularity: number;
}

interface Entry {
  text: string;
  kind: SuggestionKind;
  itemId?: string;
  popularity: number;
  /** Items referring to this entry (titles: 1); the entry is dead at 0. */
  refs: number;
  /** Its key in byKey. */
  id: string;
}

/** Pending keys beyond which the delta is merged into the sorted array. */
const MAX_DELTA = 2_048;
/** Most keys inspected for one prefix (popularity order is exact within this bound). */
const MAX_SCAN = 50_000;
export const MAX_SUGGESTIONS = 50;

function keyOf(text: string): string[] {
  const toks = tokenize(text);
  const keys: string[] = [];
  for (let i = 0; i < toks.length; i++) keys.push(toks.slice(i).join(' '));
  return keys;
}

export class Suggester {
  private readonly entries: Entry[] = [];
  private readonly byKey = new Map<string, number>(); // `${kind}\u0000${folded}` → entry
  private sortedKeys: string[] = [];
  private sortedEntries = new Int32Array(0);
  private deltaKeys: string[] = [];
  private deltaEntries: number[] = [];

  /** Adds a reference (an item with this title/creator/tag); aggregated entries add popularity. */
  add(kind: SuggestionKind, text: string, popularity: number, itemId?: string): void {
    const folded = tokenize(text).join(' ');
    if (!folded) return;
    const id = kind === 'title' ? `${kind}\u0000${itemId}\u0000${folded}` : `${kind}\u0000${folded}`;
    let e = this.byKey.get(id);
    if (e === undefined) {
      e = this.entries.length;
      this.entries.push({ text, kind, itemId, popularity: 0, refs: 0, id });
      this.byKey.set(id, e);
      for (const k of keyOf(text)) {
        this.deltaKeys.push(k);
        this.deltaEntries.push(e);
      }
    }
    const entry = this.entries[e];
    if (kind === 'title' && entry.refs > 0) {
      entry.popularity = popularity;
      return;
    }
    entry.refs++;
    entry.popularity += popularity;
  }

  /** Removes one reference added with the same arguments. */
  remove(kind: SuggestionKind, text: string, popularity: number, itemId?: string): void {
    const folded = tokenize(text).join(' ');
    const id = kind === 'title' ? `${kind}\u0000${itemId}\u0000${folded}` : `${kind}\u0000${folded}`;
    const e = this.byKey.get(id);
    if (e === undefined) return;
    const entry = this.entries[e];
    entry.refs = Math.max(0, entry.refs - 1);
    entry.popularity = entry.refs === 0 ? 0 : Math.max(0, entry.popularity - popularity);
  }

  /** Changes the popularity contribution of one reference. */
  adjust(kind: SuggestionKind, text: string, delta: number, itemId?: string): void {
    const folded = tokenize(text).join(' ');
    const id = kind === 'title' ? `${kind}\u0000${itemId}\u0000${folded}` : `${kind}\u0000${folded}`;
    const e = this.byKey.get(id);
    if (e !== undefined && this.entries[e].refs > 0) this.entries[e].popularity = Math.max(0, this.entries[e].popularity + delta);
  }

  /** Merges pending keys into the sorted array now (the next suggest would, past MAX_DELTA of them). */
  prepare(): void {
    this.merge();
  }

  private merge(): void {
    if (this.deltaKeys.length === 0) return;
    const n = this.sortedKeys.length + this.deltaKeys.length;
    const order = new Int32Array(n);
    const keys = this.sortedKeys.concat(this.deltaKeys);
    const ents = new Int32Array(n);
    ents.set(this.sortedEntries);
    ents.set(this.deltaEntries, this.sortedEntries.length);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    // Drop keys of dead entries while rebuilding.
    const outKeys: string[] = [];
    const outEnts: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = ents[order[i]];
      const entry = this.entries[e];
      if (entry.refs === 0) {
        // Forget the dead entry, so a later add creates it again with fresh keys.
        if (this.byKey.get(entry.id) === e) this.byKey.delete(entry.id);
        continue;
      }
      outKeys.push(keys[order[i]]);
      outEnts.push(e);
    }
    this.sortedKeys = outKeys;
    this.sortedEntries = Int32Array.from(outEnts);
    this.deltaKeys = [];
    this.deltaEntries = [];
  }

  /** Up to n completions of `q` (a prefix at any word start), most popular first. */
  suggest(q: string, n = 10): Suggestion[] {
    if (!Number.isInteger(n) || n < 1 || n > MAX_SUGGESTIONS) {
      throw new ValidationError(`n must be an integer in 1..${MAX_SUGGESTIONS}`, [{ path: 'n', message: `got ${n}` }]);
    }
    if (q.length > 200) throw new ValidationError('query longer than 200 characters', [{ path: 'q', message: `length ${q.length}` }]);
    const prefix = tokenize(q).join(' ') + (/\s$/.test(q) && q.trim() ? ' ' : '');
    if (!prefix.trim()) return [];
    if (this.deltaKeys.length > MAX_DELTA) this.merge();
    const seen = new Set<number>();
    const consider = (e: number): void => {
      if (this.entries[e].refs > 0) seen.add(e);
    };
    const keys = this.sortedKeys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo, scanned = 0; i < keys.length && scanned < MAX_SCAN; i++, scanned++) {
      if (!keys[i].startsWith(prefix)) break;
      consider(this.sortedEntries[i]);
    }
    for (let i = 0; i < this.deltaKeys.length; i++) if (this.deltaKeys[i].startsWith(prefix)) consider(this.deltaEntries[i]);
    const kindOrder: Record<SuggestionKind, number> = { creator: 0, tag: 1, title: 2 };
    return [...seen]
      .map((e) => this.entries[e])
      .sort((a, b) => b.popularity - a.popularity || kindOrder[a.kind] - kindOrder[b.kind] || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
      .slice(0, n)
      .map((e) => ({ text: e.text, kind: e.kind, ...(e.itemId !== undefined ? { itemId: e.itemId } : {}), popularity: e.popularity }));
  }
}
