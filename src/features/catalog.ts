/**
 * The online view of the catalog: per item ix, whether it can be recommended (in the catalog, available,
 * not deleted), when it was created and when it expires, and its creator. Items that appear in events
 * before the catalog knows them get an ix but stay unrecommendable until `upsert` describes them.
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
    }
    return ix;
  }

  upsert(item: Item): number {
    const ix = this.intern(item.id);
    if (!(this.flags[ix] & IN_CATALOG)) this.catalogCount++;
    this.flags[ix] = IN_CATALOG | (item.available ? AVAILABLE : 0);
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
    return ix;
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
