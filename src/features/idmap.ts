/**
 * Client ids (strings) ↔ dense indexes (0..n-1, typed-array slots). An ix is never reused, so arrays
 * indexed by it stay valid for the life of the process; deletions are flags kept by the owners.
 */
export class IdMap {
  private readonly ixById = new Map<string, number>();
  private readonly ids: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  /** The ix of `id`, or -1 when unknown. */
  get(id: string): number {
    return this.ixById.get(id) ?? -1;
  }

  /** The ix of `id`, assigning the next one when it is new. */
  intern(id: string): number {
    let ix = this.ixById.get(id);
    if (ix === undefined) {
      ix = this.ids.length;
      this.ids.push(id);
      this.ixById.set(id, ix);
    }
    return ix;
  }

  id(ix: number): string {
    if (ix < 0 || ix >= this.ids.length) throw new RangeError(`ix ${ix} out of range 0..${this.ids.length - 1}`);
    return this.ids[ix];
  }
}
