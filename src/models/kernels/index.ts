/**
 * Typed-array face of the WASM SIMD kernels: every tensor is a Float32Array/Int32Array view allocated
 * from one Arena (shared WebAssembly memory), so kernels run on it in place with no copies. Large matmuls
 * are split by rows across worker threads that share the memory (see pool.ts); everything else runs on
 * the calling thread. Semantics of each method match the naive twins in reference.ts.
 */
import { Arena, instantiateKernels, kernelModule, ptr, type KernelExports } from './wasm.js';
import { KernelPool } from './pool.js';

type F32 = Float32Array;
type I32 = Int32Array;

/** Below this many multiply-adds a matmul is not worth handing to another thread. */
const PARALLEL_MIN_FLOPS = 4_000_000;
/** Below this many logits the softmax loss stays on one thread. */
const PARALLEL_MIN_ELEMENTS = 200_000;

export class Kernels {
  readonly arena: Arena;
  readonly k: KernelExports;
  private pool: KernelPool | undefined;

  /** threads: total threads for big matmuls (1 = this thread only). */
  constructor(opts: { initialBytes?: number; threads?: number } = {}) {
    this.arena = new Arena(opts.initialBytes);
    const module = kernelModule();
    this.k = instantiateKernels(module, this.arena.memory);
    const threads = Math.max(1, Math.floor(opts.threads ?? 1));
    if (threads > 1) this.pool = new KernelPool(module, this.arena.memory, threads - 1);
  }

  get threads(): number {
    return 1 + (this.pool?.size ?? 0);
  }

  /** General strided matmul (see asm/kernels.as.ts); splits rows across the pool when large. */
  gemm(A: F32, B: F32, C: F32, M: number, N: number, K: number, sai: number, sak: number, ldb: number, ldc: number, acc: boolean): void {
    if (M === 0 || N === 0) return;
    const a = ptr(A), b = ptr(B), c = ptr(C);
    if (this.pool && M >= 8 && M * N * K >= PARALLEL_MIN_FLOPS) {
      const parts = this.pool.size + 1;
      const chunk = Math.ceil(M / parts / 4) * 4;
      const jobs: number[][] = [];
      for (let i0 = 0; i0 < M; i0 += chunk) jobs.push([a, b, c, i0, Math.min(M, i0 + chunk), N, K, sai, sak, ldb, ldc, acc ? 1 : 0]);
      this.pool.run(this.k, 'matmulRows', jobs);
      return;
    }
    this.k.matmul(a, b, c, M, N, K, sai, sak, ldb, ldc, acc ? 1 : 0);
  }

  /** C[M,N] (+)= A[M,K]·B[K,N]. */
  mm(A: F32, B: F32, C: F32, M: number, N: number, K: number, acc = false): void {
    this.gemm(A, B, C, M, N, K, K, 1, N, N, acc);
  }

  /** C[M,N] (+)= A[K,M]ᵀ·B[K,N]. Split by rows of C (= columns of A), so threads never share output. */
  mmAt(A: F32, B: F32, C: F32, M: number, N: number, K: number, acc = false): void {
    this.gemm(A, B, C, M, N, K, 1, M, N, N, acc);
  }

  /** C[M,N] (+)= A[M,K]·B[N,K]ᵀ, via a transposed copy of B in scratch. */
  mmBt(A: F32, B: F32, C: F32, M: number, N: number, K: number, acc = false): void {
    const mark = this.arena.mark();
    const Bt = this.arena.f32(K * N);
    this.k.transpose(ptr(B), ptr(Bt), N, K, K);
    this.gemm(A, Bt, C, M, N, K, K, 1, N, N, acc);
    this.arena.release(mark);
  }

  addBias(y: F32, bias: F32, T: number, n: number): void {
    this.k.addBias(ptr(y), ptr(bias), T, n);
  }
  colSum(dy: F32, db: F32, T: number, n: number): void {
    this.k.colSum(ptr(dy), ptr(db), T, n);
  }
  addInto(y: F32, x: F32, n: number): void {
    this.k.addInto(ptr(y), ptr(x), n);
  }
  mulInto(y: F32, m: F32, n: number): void {
    this.k.mulInto(ptr(y), ptr(m), n);
  }
  dropout(x: F32, mask: F32, n: number, p: number, seed: number): void {
    this.k.dropout(ptr(x), ptr(mask), n, p, seed >>> 0);
  }
  reluFwd(x: F32, out: F32, n: number): void {
    this.k.reluFwd(ptr(x), ptr(out), n);
  }
  reluBwd(pre: F32, dy: F32, dx: F32, n: number): void {
    this.k.reluBwd(ptr(pre), ptr(dy), ptr(dx), n);
  }
  geluFwd(x: F32, out: F32, n: number): void {
    this.k.geluFwd(ptr(x), ptr(out), n);
  }
  geluBwd(pre: F32, dy: F32, dx: F32, n: number): void {
    this.k.geluBwd(ptr(pre), ptr(dy), ptr(dx), n);
  }
  layerNormFwd(x: F32, out: F32, mean: F32, rstd: F32, gamma: F32, beta: F32, T: number, n: number, eps = 1e-6): void {
    this.k.layerNormFwd(ptr(x), ptr(out), ptr(mean), ptr(rstd), ptr(gamma), ptr(beta), T, n, eps);
  }
  layerNormBwd(dout: F32, x: F32, mean: F32, rstd: F32, gamma: F32, dx: F32, dgamma: F32, dbeta: F32, T: number, n: number): void {
    this.k.layerNormBwd(ptr(dout), ptr(x), ptr(mean), ptr(rstd), ptr(gamma), ptr(dx), ptr(dgamma), ptr(dbeta), T, n);
  }
  embedFwd(E: F32, P: F32, items: I32, pos: I32, x: F32, T: number, d: number, scale: number): void {
    this.k.embedFwd(ptr(E), ptr(P), ptr(items), ptr(pos), ptr(x), T, d, scale);
  }
  embedBwd(dE: F32, dP: F32, items: I32, pos: I32, dx: F32, T: number, d: number, scale: number): void {
    this.k.embedBwd(ptr(dE), ptr(dP), ptr(items), ptr(pos), ptr(dx), T, d, scale);
  }
  softmaxXent(logits: F32, targets: I32, R: number, N: number, gradScale: number): number {
    const l = ptr(logits), t = ptr(targets);
    if (this.pool && R >= 8 && R * N >= PARALLEL_MIN_ELEMENTS) {
      const parts = this.pool.size + 1;
      const chunk = Math.ceil(R / parts);
      const jobs: number[][] = [];
      for (let r0 = 0; r0 < R; r0 += chunk) jobs.push([l + r0 * N * 4, t + r0 * 4, Math.min(chunk, R - r0), N, gradScale]);
      return this.pool.run(this.k, 'softmaxXent', jobs).reduce((x, y) => x + y, 0);
    }
    return this.k.softmaxXent(l, t, R, N, gradScale);
  }

  /** Scratch floats attention needs for sequences up to maxLen with head size dh, per thread. */
  static attentionScratch(maxLen: number, dh: number, threads = 1): number {
    return threads * ((maxLen * maxLen + 2 * dh * maxLen + 64) & ~15);
  }

  attentionFwd(q: F32, k: F32, v: F32, ldqkv: number, out: F32, ldo: number, probs: F32, seg: I32, B: number, H: number, dh: number, scale: number, scratch: F32): void {
    const parts = this.attentionParts(seg, B, H);
    const s = this.scratchPerThread(scratch, parts.length);
    this.runParts('attentionFwd', parts.map(([b0, b1, pOff], i) =>
      [ptr(q), ptr(k), ptr(v), ldqkv, ptr(out), ldo, ptr(probs) + pOff * 4, ptr(seg) + b0 * 4, b1 - b0, H, dh, scale, s[i]]));
  }
  attentionBwd(q: F32, k: F32, v: F32, ldqkv: number, dout: F32, ldo: number, probs: F32, seg: I32, dq: F32, dk: F32, dv: F32, B: number, H: number, dh: number, scale: number, scratch: F32): void {
    const parts = this.attentionParts(seg, B, H);
    const s = this.scratchPerThread(scratch, parts.length);
    this.runParts('attentionBwd', parts.map(([b0, b1, pOff], i) =>
      [ptr(q), ptr(k), ptr(v), ldqkv, ptr(dout), ldo, ptr(probs) + pOff * 4, ptr(seg) + b0 * 4, ptr(dq), ptr(dk), ptr(dv), b1 - b0, H, dh, scale, s[i]]));
  }

  /** Splits sequences [0, B) into ≤ threads ranges of about equal attention work (Σ n²). */
  private attentionParts(seg: I32, B: number, H: number): [number, number, number][] {
    const parts = this.pool ? this.pool.size + 1 : 1;
    let total = 0;
    for (let b = 0; b < B; b++) total += (seg[b + 1] - seg[b]) ** 2;
    const out: [number, number, number][] = [];
    let b0 = 0;
    let pOff = 0;
    let acc = 0;
    let start = 0;
    for (let b = 0; b < B; b++) {
      const n = seg[b + 1] - seg[b];
      acc += n * n;
      if (out.length < parts - 1 && acc >= (total * (out.length + 1)) / parts) {
        out.push([b0, b + 1, start]);
        b0 = b + 1;
        start = pOff + H * n * n;
      }
      pOff += H * n * n;
    }
    if (b0 < B || out.length === 0) out.push([b0, B, start]);
    return out;
  }

  /** Byte offsets of per-thread scratch slices inside `scratch` (sized by attentionScratch × threads). */
  private scratchPerThread(scratch: F32, parts: number): number[] {
    const each = Math.floor(scratch.length / Math.max(1, this.threads)) & ~15;
    if (each * parts > scratch.length) throw new RangeError('attention scratch too small for the thread count');
    return Array.from({ length: parts }, (_, i) => ptr(scratch) + i * each * 4);
  }

  private runParts(op: 'attentionFwd' | 'attentionBwd', parts: number[][]): void {
    if (this.pool && parts.length > 1) {
      this.pool.run(this.k, op, parts);
      return;
    }
    const fn = this.k[op] as (...a: number[]) => void;
    for (const p of parts) fn(...p);
  }

  sumSquares(x: F32, n: number): number {
    return this.k.sumSquares(ptr(x), n);
  }
  scale(x: F32, n: number, a: number): void {
    this.k.scale(ptr(x), n, a);
  }
  adamw(p: F32, g: F32, m: F32, v: F32, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number, gradScale: number): void {
    this.k.adamw(ptr(p), ptr(g), ptr(m), ptr(v), n, lr, b1, b2, eps, wd, bc1, bc2, gradScale);
  }

  async dispose(): Promise<void> {
    await this.pool?.dispose();
    this.pool = undefined;
  }
}

export { Arena } from './wasm.js';
