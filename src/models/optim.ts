/**
 * Optimiser pieces shared by the learned models: AdamW (Loshchilov & Hutter 2019, decoupled weight
 * decay), global-norm gradient clipping (Pascanu et al. 2013) and a linear warm-up + cosine decay
 * learning-rate schedule. State lives in the kernel arena so updates run as one WASM loop per tensor.
 */
import type { Kernels } from './kernels/index.js';

/** One parameter tensor and its gradient (same length), and whether weight decay applies to it. */
export interface ParamRef {
  name: string;
  param: Float32Array;
  grad: Float32Array;
  decay: boolean;
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWOptions = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 };

export class AdamW {
  /** Number of updates taken (bias correction uses it; checkpointed). */
  step = 0;
  readonly m: Float32Array[];
  readonly v: Float32Array[];

  constructor(
    private readonly kernels: Kernels,
    readonly params: ParamRef[],
    readonly opts: AdamWOptions = DEFAULT_ADAMW,
  ) {
    this.m = params.map((p) => kernels.arena.f32(p.param.length));
    this.v = params.map((p) => kernels.arena.f32(p.param.length));
  }

  /** Global L2 norm of all gradients. */
  gradNorm(): number {
    let s = 0;
    for (const p of this.params) s += this.kernels.sumSquares(p.grad, p.grad.length);
    return Math.sqrt(s);
  }

  /**
   * One AdamW update with learning rate lr; gradients are first rescaled so their global norm is at most
   * clipNorm (0 = no clipping). Returns the pre-clipping gradient norm.
   */
  update(lr: number, clipNorm: number): number {
    const norm = this.gradNorm();
    if (!Number.isFinite(norm)) throw new RangeError(`gradient norm is ${norm}; training diverged (lower lr)`);
    const gradScale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      this.kernels.adamw(p.param, p.grad, this.m[i], this.v[i], p.param.length, lr, beta1, beta2, eps,
        p.decay ? weightDecay : 0, bc1, bc2, gradScale);
    }
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad.fill(0);
  }
}

/**
 * Learning rate at `step`: linear warm-up over warmupSteps, then cosine decay from lr to lr·minFrac at
 * totalSteps (constant lr·minFrac after).
 */
export function lrAt(step: number, lr: number, warmupSteps: number, totalSteps: number, minFrac: number): number {
  if (warmupSteps > 0 && step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (totalSteps <= warmupSteps) return lr;
  const t = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
  return lr * (minFrac + (1 - minFrac) * 0.5 * (1 + Math.cos(Math.PI * t)));
}
