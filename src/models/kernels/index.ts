/**
 * Typed-array face of the WASM SIMD kernels: every tensor is a Float32Array/Int32Array view allocated
 * from one Arena (shared WebAssembly memory), so kernels run on it in place with no copies. Large matmuls
 * are split by rows across worker threads that share the memory (see pool.ts); everything else runs on
 * the calling thread. Semantics of each method match the naive twins in reference.ts.
 */
import { Arena, instantiateKernels, kernelModule, ptr, type KernelExports } from './wasm.js';
import { MatmulPool } from './pool.js';

type F32 = Float32Array;
type I32 = Int32Array;

/** Below this many multiply-adds a matmul is not worth handing to another thread. */
const PARALLEL_MIN_FLOPS = 4_000_000;

export class Kernels {
  readonly arena: Arena;
  readonly k: KernelExports;
  private pool: MatmulPool | undefined;

  /** threads: total threads for big matmuls (1 = this thread only). */
  constructor(opts: { initialBytes?: number; threads?: number } = {}) {
    this.arena = new Arena(opts.initialBytes);
    const module = kernelModule();
    this.k = instantiateKernels(module, this.arena.memory);
    const threads = Math.max(1, Math.floor(opts.threads ?? 1));
    if (threads > 1) this.pool = new MatmulPool(module, this.arena.memory, threads - 1);
  }

  get threads(): number {
    return 1 + (this.pool?.size ?? 0);
  }

  /** General strided matmul (see asm/kernels.as.ts); splits rows across the pool when large. */
  gemm(A: F32, B: F32, C: F32, M: number, N: number, K: number, sai: number, sak: number, ldb: number, ldc: number, acc: boolean): void {
    if (M === 0 || N === 0) return;
    const a = ptr(A), b = ptr(B), c = ptr(C);
    if (this.pool && M >= 8 && M * N * K >= PARALLEL_MIN_FLOPS) {
      this.pool.matmul(this.k, a, b, c, M, N, K, sai, sak, ldb, ldc, acc ? 1 : 0);
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
    return this.k.softmaxXent(ptr(logits), ptr(targets), R, N, gradScale);
  }

  /** Scratch floats attention needs for sequences up to maxLen with head size dh. */
  static attentionScratch(maxLen: number, dh: number): number {
    return maxLen * maxLen + 2 * dh * maxLen;
  }

  attentionFwd(q: F32, k: F32, v: F32, ldqkv: number, out: F32, ldo: number, probs: F32, seg: I32, B: number, H: number, dh: number, scale: number, scratch: F32): void {
    this.k.attentionFwd(ptr(q), ptr(k), ptr(v), ldqkv, ptr(out), ldo, ptr(probs), ptr(seg), B, H, dh, scale, ptr(scratch));
  }
  attentionBwd(q: F32, k: F32, v: F32, ldqkv: number, dout: F32, ldo: number, probs: F32, seg: I32, dq: F32, dk: F32, dv: F32, B: number, H: number, dh: number, scale: number, scratch: F32): void {
    this.k.attentionBwd(ptr(q), ptr(k), ptr(v), ldqkv, ptr(dout), ldo, ptr(probs), ptr(seg), ptr(dq), ptr(dk), ptr(dv), B, H, dh, scale, ptr(scratch));
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
