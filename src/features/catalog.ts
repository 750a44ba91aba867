/**
 * The online view of the catalog: per item ix, whether it can be recommended (in the catalog, available,
 * not deleted), when it was created and when it expires, and its creator. Items that appear in events
 * before the catalog knows them get an ix but stay unrecommendable until `upsert` describes them.
 *
 * Tags (for diversity, tag filters and tag rules) are interned to tag ixs and kept sorted per item in one
 * packed pool (no array per item: a million items would otherwise mean a million small objects); an
 * update that grows an item's tag list appends a new slice and leaves the old one unused. A title key
 * (32-bit hash of the normalised title, 0 when untitled) lets re-ranking drop re-uploads of one work.
 */
import type { Item } from '../core/schemas.js';
import { ensureLength } from './arrays.js';
import { IdMap } from './idmap.js';

const IN_CATALOG = 1;
const AVAILABLE = 2;

export class Catalog {
  readonly ids = new IdMap();
  readonly creators = new IdMap();
  /** flags: [items] IN_CATALOG | AVAILABLE bits. */
  private flags = new Uint8Array(1024);
  /** createdAtMs: [items]. */
  createdAtMs = new Float64Array(1024);
  /** expiresAtMs: [items], +Infinity when the item never expires. */
  expiresAtMs = new Float64Array(1024).fill(Infinity);
  /** creatorIx: [items], -1 when unknown. */
  creatorIx = new Int32Array(1024).fill(-1);
  readonly tags = new IdMap();
  /** tagStart/tagCount: [items] the item's sorted tag ixs are tagPool[tagStart, tagStart + tagCount). */
  tagStart = new Int32Array(1024);
  tagCount = new Uint8Array(1024);
  tagPool = new Int32Array(4096);
  private tagPoolUsed = 0;
  /** titleKey: [items] FNV-1a hash of the lower-cased, space-collapsed title; 0 when untitled. */
  titleKey = new Uint32Array(1024);
  /** Catalog ixs sorted by createdAt, newest first (valid up to the pending changes below). */
  private newest = new Int32Array(0);
  /** Ixs whose createdAt was set since `newest` was last brought up to date. */
  private pendingCreated: number[] = [];
  /** Item ixs per creator ix, in arrival order. */
  private readonly byCreator: number[][] = [];
  private catalogCount = 0;

  /** Number of item ixs assigned (catalog items plus ids seen only in events). */
  get size(): number {
    return this.ids.size;
  }

  /** Items currently in the catalog (not deleted). */
  get count(): number {
    return this.catalogCount;
  }

  /** The ix of an item id, assigning one when it is new. */
  intern(id: string): number {
    const ix = this.ids.intern(id);
    if (ix >= this.flags.length) {
      this.flags = ensureLength(this.flags, ix + 1);
      this.createdAtMs = ensureLength(this.createdAtMs, ix + 1);
      this.expiresAtMs = ensureLength(this.expiresAtMs, ix + 1, Infinity);
      this.creatorIx = ensureLength(this.creatorIx, ix + 1, -1);
      this.tagStart = ensureLength(this.tagStart, ix + 1);
      this.tagCount = ensureLength(this.tagCount, ix + 1);
      this.titleKey = ensureLength(this.titleKey, ix + 1);
    }
    return ix;
  }

  upsert(item: Item): number {
    const ix = this.intern(item.id);
    const isNew = !(this.flags[ix] & IN_CATALOG);
    if (isNew) this.catalogCount++;
    this.flags[ix] = IN_CATALOG | (item.available ? AVAILABLE : 0);
    if (isNew || this.createdAtMs[ix] !== item.createdAt) this.pendingCreated.push(ix);
    this.createdAtMs[ix] = item.createdAt;
    this.expiresAtMs[ix] = item.expiresAt ?? Infinity;
    const c = item.creatorId === undefined ? -1 : this.creators.intern(item.creatorId);
    if (c !== this.creatorIx[ix]) {
      if (this.creatorIx[ix] >= 0) {
        const list = this.byCreator[this.creatorIx[ix]];
        list.splice(list.indexOf(ix), 1);
      }
      if (c >= 0) (this.byCreator[c] ??= []).push(ix);
      this.creatorIx[ix] = c;
    }
    this.setTags(ix, item.tags);
    this.titleKey[ix] = titleKey(item.title);
    return ix;
  }

  private setTags(ix: number, tags: readonly string[]): void {
    const m = Math.min(tags.length, 255);
    let start = this.tagStart[ix];
    if (m > this.tagCount[ix]) {
      start = this.tagPoolUsed;
      this.tagPool = ensureLength(this.tagPool, start + m);
      this.tagPoolUsed += m;
      this.tagStart[ix] = start;
    }
    let k = 0;
    for (let t = 0; t < m; t++) {
      const tagIx = this.tags.intern(tags[t]);
      // Insertion into the sorted slice, skipping duplicates.
      let p = k;
      while (p > 0 && this.tagPool[start + p - 1] > tagIx) p--;
      if (p > 0 && this.tagPool[start + p - 1] === tagIx) continue;
      this.tagPool.copyWithin(start + p + 1, start + p, start + k);
      this.tagPool[start + p] = tagIx;
      k++;
    }
    this.tagCount[ix] = k;
  }

  /**
   * Every ix ever described by `upsert`, newest createdAt first (ties: smaller ix first). Deleted or
   * unavailable items stay listed (callers filter). Changes since the last call are merged in: O(items +
   * p log p) for p changed items, nothing when the catalog did not change.
   */
  newestFirst(): Int32Array {
    const pending = this.pendingCreated;
    if (pending.length === 0) return this.newest;
    const created = this.createdAtMs;
    const cmp = (a: number, b: number): number => created[b] - created[a] || a - b;
    const moved = new Uint8Array(this.ids.size);
    const fresh: number[] = [];
    for (const ix of pending) {
      if (moved[ix]) continue;
      moved[ix] = 1;
      fresh.push(ix);
    }
    fresh.sort(cmp);
    const old = this.newest;
    const out = new Int32Array(old.length + fresh.length);
    let i = 0;
    let j = 0;
    let o = 0;
    while (i < old.length || j < fresh.length) {
      if (i < old.length && moved[old[i]]) {
        i++;
        continue;
      }
      if (j >= fresh.length || (i < old.length && cmp(old[i], fresh[j]) <= 0)) out[o++] = old[i++];
      else out[o++] = fresh[j++];
    }
    this.newest = out.subarray(0, o);
    this.pendingCreated = [];
    return this.newest;
  }

  /** True when the item carries the tag ix. */
  hasTag(ix: number, tagIx: number): boolean {
    const start = this.tagStart[ix];
    const end = start + this.tagCount[ix];
    for (let p = start; p < end; p++) if (this.tagPool[p] === tagIx) return true;
    return false;
  }

  /** Jaccard similarity of two items' tag sets (0 when either has none). */
  tagJaccard(a: number, b: number): number {
    const pool = this.tagPool;
    let i = this.tagStart[a];
    const ie = i + this.tagCount[a];
    let j = this.tagStart[b];
    const je = j + this.tagCount[b];
    const union0 = this.tagCount[a] + this.tagCount[b];
    if (union0 === 0) return 0;
    let inter = 0;
    while (i < ie && j < je) {
      const x = pool[i];
      const y = pool[j];
      if (x === y) {
        inter++;
        i++;
        j++;
      } else if (x < y) i++;
      else j++;
    }
    return inter / (union0 - inter);
  }

  /** Marks an item deleted; returns false when it was not in the catalog. */
  remove(id: string): boolean {
    const ix = this.ids.get(id);
    if (ix < 0 || !(this.flags[ix] & IN_CATALOG)) return false;
    this.flags[ix] = 0;
    this.catalogCount--;
    return true;
  }

  inCatalog(ix: number): boolean {
    return (this.flags[ix] & IN_CATALOG) !== 0;
  }

  /** Recommendable at nowMs: in the catalog, available, already created and not expired. */
  isServable(ix: number, nowMs: number): boolean {
    return this.flags[ix] === (IN_CATALOG | AVAILABLE) && this.createdAtMs[ix] <= nowMs && this.expiresAtMs[ix] > nowMs;
  }

  /** Items of the item's creator (including itself), or an empty list. */
  creatorItems(ix: number): readonly number[] {
    const c = this.creatorIx[ix];
    return c >= 0 ? this.byCreator[c] : [];
  }
}

/** 32-bit FNV-1a of the title, lower-cased with runs of whitespace collapsed; 0 for an empty title. */
export function titleKey(title: string): number {
  const t = title.trim().toLowerCase().replace(/\s+/g, ' ');
  if (t.length === 0) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < t.length; i++) {
    h ^= t.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}
