/**
 * Helpers the baseline models share: hyper-parameter validation (from `--params JSON` or
 * FitContext.params) against each model's zod schema with errors naming `params.<field>`, and the binary
 * user-item matrix in CSR form that the co-occurrence models start from.
 */
import type { z } from 'zod';
import { ValidationError, issuesFromSchema } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

export function parseModelParams<S extends z.ZodType>(model: string, schema: S, params: unknown): z.infer<S> {
  const r = schema.safeParse(params ?? {});
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues, 'params');
    throw new ValidationError(`invalid ${model} parameters: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

/** Binary user-item rows: each user's distinct items, ascending (CSR). */
export function distinctSortedRows(offsets: Int32Array, items: Int32Array, numItems: number): { offsets: Int32Array; items: Int32Array } {
  const numUsers = offsets.length - 1;
  const stamp = new Int32Array(numItems).fill(-1);
  const outOff = new Int32Array(numUsers + 1);
  const buf = new Int32Array(items.length);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const start = w;
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      const i = items[p];
      if (stamp[i] !== u) {
        stamp[i] = u;
        buf[w++] = i;
      }
    }
    buf.subarray(start, w).sort();
    outOff[u + 1] = w;
  }
  return { offsets: outOff, items: buf.slice(0, w) };
}

/**
 * A saved tensor checked at load time (artifacts come from disk): the right dtype and, when given, length.
 * Float tensors must be finite, so a corrupt file fails here and not as NaN scores.
 */
export function savedTensor(model: string, weights: Record<string, Tensor>, name: string, dtype: 'f32', length?: number): Float32Array;
export function savedTensor(model: string, weights: Record<string, Tensor>, name: string, dtype: 'i32', length?: number): Int32Array;
export function savedTensor(model: string, weights: Record<string, Tensor>, name: string, dtype: 'f32' | 'i32', length?: number): Tensor {
  const t = weights[name];
  const ok = dtype === 'f32' ? t instanceof Float32Array : t instanceof Int32Array;
  if (!ok) throw new ValidationError(`${model} artifact has no ${dtype} tensor ${name}`, [{ path: `weights.${name}`, message: t ? `got ${t.constructor.name}` : 'missing' }]);
  if (length !== undefined && t.length !== length) {
    throw new ValidationError(`${model} artifact tensor ${name} has ${t.length} values, its config says ${length}`, [{ path: `weights.${name}`, message: 'length mismatch' }]);
  }
  if (t instanceof Float32Array) {
    for (let i = 0; i < t.length; i++) {
      if (!Number.isFinite(t[i])) throw new ValidationError(`${model} artifact tensor ${name} has a non-finite value`, [{ path: `weights.${name}[${i}]`, message: String(t[i]) }]);
    }
  }
  return t;
}
