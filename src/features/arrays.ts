/**
 * Growth for the per-item / per-user typed arrays of the online state: ids keep arriving, so every
 * dense array is grown geometrically (amortised O(1) per new id) and new slots get an explicit fill.
 */
export type TypedArray = Int32Array | Uint8Array | Uint32Array | Float32Array | Float64Array;

/** Returns `a` if it already holds `minLength` slots, else a copy with capacity ≥ max(minLength, 2·length). */
export function ensureLength<T extends TypedArray>(a: T, minLength: number, fill = 0): T {
  if (a.length >= minLength) return a;
  const capacity = Math.max(minLength, a.length * 2, 16);
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(a as never);
  if (fill !== 0) b.fill(fill as never, a.length);
  return b;
}
