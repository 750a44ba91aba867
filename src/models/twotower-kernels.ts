/**
 * The two-tower matmuls on the shared WASM SIMD kernels (src/models/kernels). The towers keep their
 * tensors in ordinary Float32Arrays, so each call stages its operands into kernel memory: the copies
 * are O(m·k + k·n + m·n) against O(m·n·k) multiply-adds, and the kernels are 5-15x faster than the TS
 * loops at our shapes (256×512×64 and friends), so staging wins by a wide margin. The TS loops in
 * twotower.ts stay as the reference these are tested against.
 */
import { Kernels } from './kernels/index.js';
import { tsMatmuls, type Matmuls } from './twotower.js';

export class WasmMatmuls implements Matmuls {
  private constructor(private readonly k: Kernels) {}

  /** The WASM backend, or null when the kernel module cannot be loaded (then use tsMatmuls). */
  static tryCreate(): WasmMatmuls | null {
    try {
      return new WasmMatmuls(new Kernels({ threads: 1 }));
    } catch {
      return null;
    }
  }

  private staged(A: Float32Array, aLen: number, B: Float32Array, bLen: number, C: Float32Array, cLen: number, loadC: boolean, run: (a: Float32Array, b: Float32Array, c: Float32Array) => void): void {
    const arena = this.k.arena;
    const mark = arena.mark();
    try {
      const a = arena.f32(aLen), b = arena.f32(bLen), c = arena.f32(cLen);
      a.set(A.subarray(0, aLen));
      b.set(B.subarray(0, bLen));
      if (loadC) c.set(C.subarray(0, cLen));
      run(a, b, c);
      C.set(c);
    } finally {
      arena.release(mark);
    }
  }

  nt(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate = false): void {
    this.staged(A, m * k, B, n * k, C, m * n, accumulate, (a, b, c) => this.k.mmBt(a, b, c, m, n, k, accumulate));
  }

  nn(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number, accumulate = false): void {
    this.staged(A, m * k, B, k * n, C, m * n, accumulate, (a, b, c) => this.k.mm(a, b, c, m, n, k, accumulate));
  }

  tn(A: Float32Array, B: Float32Array, C: Float32Array, m: number, n: number, k: number): void {
    this.staged(A, k * m, B, k * n, C, m * n, true, (a, b, c) => this.k.mmAt(a, b, c, m, n, k, true));
  }

  async dispose(): Promise<void> {
    await this.k.dispose();
  }
}

/** Fastest available matmuls: WASM SIMD when it loads, else the TS reference. */
export function bestMatmuls(): Matmuls & { dispose?: () => Promise<void> } {
  return WasmMatmuls.tryCreate() ?? tsMatmuls;
}
