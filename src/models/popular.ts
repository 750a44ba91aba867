/**
 * Most-popular baseline: every user gets items ranked by their number of training interactions.
 * The floor any personalised model must clear (and, on ML-1M leave-one-out, not by as much as one hopes).
 */
import type { Sequences } from '../core/dataset.js';
import { ValidationError } from '../core/errors.js';
import { z } from 'zod';
import { parseModelParams, savedTensor } from './common.js';
import type { FitContext, FitReport, Model, SavedModel } from './types.js';

export class PopularModel implements Model {
  readonly name = 'popular';
  /** counts: [numItems] training interactions per item. */
  private counts = new Float32Array(0);

  constructor(params: Record<string, unknown> = {}) {
    const extra = Object.keys(params);
    if (extra.length > 0) {
      throw new ValidationError(`popular takes no parameters, got ${extra.join(', ')}`, [
        { path: `params.${extra[0]}`, message: 'unknown parameter' },
      ]);
    }
  }

  async fit(ctx: FitContext): Promise<FitReport> {
    const t0 = performance.now();
    const { items, numItems } = ctx.train;
    this.counts = new Float32Array(numItems);
    for (let p = 0; p < items.length; p++) this.counts[items[p]]++;
    return { params: {}, trainSeconds: (performance.now() - t0) / 1000 };
  }

  scoreBatch(_histories: Sequences, userIxs: Int32Array, out: Float32Array): void {
    const n = this.counts.length;
    if (out.length < userIxs.length * n) throw new ValidationError('score buffer smaller than [B, numItems]');
    for (let r = 0; r < userIxs.length; r++) out.set(this.counts, r * n);
  }

  toArtifacts(): SavedModel {
    return { config: { numItems: this.counts.length }, weights: { counts: this.counts.slice() } };
  }

  static fromArtifacts(saved: SavedModel): PopularModel {
    const { numItems } = parseModelParams('popular', z.strictObject({ numItems: z.number().int().min(0) }), saved.config);
    const m = new PopularModel();
    m.counts = savedTensor('popular', saved.weights, 'counts', 'f32', numItems).slice();
    return m;
  }

  dispose(): void {}
}
