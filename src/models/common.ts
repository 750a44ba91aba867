/**
 * Helpers the baseline models share: hyper-parameter validation (from `--params JSON` or
 * FitContext.params) against each model's zod schema with errors naming `params.<field>`, and the binary
 * user-item matrix in CSR form that the co-occurrence models start from.
 */
import type { z } from 'zod';
import { ValidationError, issuesFromSchema } from '../core/errors.js';

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
