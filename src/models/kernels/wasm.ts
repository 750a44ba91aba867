/**
 * Loads the AssemblyScript SIMD kernels (asm/kernels.as.ts) and gives them a typed-array face.
 *
 * The .wasm is compiled on first use with the `assemblyscript` dependency (works offline after `npm ci`)
 * into build/kernels-<sha256 of source + flags>.wasm, so editing the source recompiles and concurrent
 * processes never see a half-written file (write to a temp name, then rename).
 *
 * Memory is one shared, growable WebAssembly.Memory: shared so worker threads can run kernels on the same
 * tensors, and because growing a shared memory never detaches existing views (every Float32Array handed
 * out by the Arena stays valid for the life of the process).
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnavailableError, ValidationError } from '../../core/errors.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCE = join(REPO_ROOT, 'asm/kernels.as.ts');
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit; reserved virtually, committed on grow.
const ASC_FLAGS = [
  '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--sharedMemory',
  '--initialMemory', '1', '--maximumMemory', String(MAX_PAGES), '--enable', 'threads', '--enable', 'simd',
];
/** Bytes below this offset belong to the module's static data; the arena starts above it. */
const ARENA_BASE = 1 << 16;
/** Slack after every allocation: matmul edge blocks read (never write) up to 8 floats past a row. */
const SLACK_BYTES = 64;

/** The raw exports; pointers are byte offsets, sizes are element counts. */
export interface KernelExports {
  matmul(A: number, B: number, C: number, M: number, N: number, K: number, sai: number, sak: number, ldb: number, ldc: number, acc: number): void;
  matmulRows(A: number, B: number, C: number, i0: number, i1: number, N: number, K: number, sai: number, sak: number, ldb: number, ldc: number, acc: number): void;
  transpose(inp: number, out: number, R: number, C: number, ldIn: number): void;
  addBias(y: number, bias: number, T: number, n: number): void;
  colSum(dy: number, db: number, T: number, n: number): void;
  addInto(y: number, x: number, n: number): void;
  mulInto(y: number, m: number, n: number): void;
  dropout(x: number, mask: number, n: number, p: number, seed: number): void;
  reluFwd(x: number, out: number, n: number): void;
  reluBwd(pre: number, dy: number, dx: number, n: number): void;
  geluFwd(x: number, out: number, n: number): void;
  geluBwd(pre: number, dy: number, dx: number, n: number): void;
  layerNormFwd(x: number, out: number, mean: number, rstd: number, gamma: number, beta: number, T: number, n: number, eps: number): void;
  layerNormBwd(dout: number, x: number, mean: number, rstd: number, gamma: number, dx: number, dgamma: number, dbeta: number, T: number, n: number): void;
  embedFwd(E: number, P: number, items: number, pos: number, x: number, T: number, d: number, scale: number): void;
  embedBwd(dE: number, dP: number, items: number, pos: number, dx: number, T: number, d: number, scale: number): void;
  softmaxXent(logits: number, targets: number, R: number, N: number, gradScale: number): number;
  expArray(x: number, out: number, n: number): void;
  attentionFwd(q: number, k: number, v: number, ldqkv: number, out: number, ldo: number, probs: number, seg: number, B: number, H: number, dh: number, scale: number, scratch: number): void;
  attentionBwd(q: number, k: number, v: number, ldqkv: number, dout: number, ldo: number, probs: number, seg: number, dq: number, dk: number, dv: number, B: number, H: number, dh: number, scale: number, scratch: number): void;
  sumSquares(x: number, n: number): number;
  scale(x: number, n: number, a: number): void;
  adamw(p: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number, gradScale: number): void;
}

let compiled: WebAssembly.Module | undefined;

/** Path of the compiled kernels for the current source, compiling it if absent. */
export function kernelWasmPath(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).update(ASC_FLAGS.join(' ')).digest('hex').slice(0, 16);
  const name = `kernels-${hash}.wasm`;
  // build/ in the repo, or the OS temp dir when the install is read-only.
  const dirs = [join(REPO_ROOT, 'build'), join(tmpdir(), 'tastemaker-build')];
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  let lastError: unknown;
  for (const dir of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      const out = join(dir, name);
      compileTo(out);
      return out;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError instanceof Error ? lastError : new UnavailableError(String(lastError));
}

function compileTo(out: string): void {
  const require = createRequire(import.meta.url);
  const asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin/asc.js');
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(process.execPath, [asc, SOURCE, '-o', tmp, ...ASC_FLAGS], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new UnavailableError(`compiling ${SOURCE} with AssemblyScript failed: ${r.stderr || r.stdout || r.error?.message}`);
  }
  renameSync(tmp, out);
}

/** The compiled module (cached per process; workers receive it by postMessage). */
export function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(kernelWasmPath()));
  return compiled;
}

export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: (_m: number, _f: number, line: number, col: number) => {
        throw new Error(`wasm kernel abort at ${line}:${col}`);
      },
      seed: () => Date.now(),
    },
  });
  return instance.exports as unknown as KernelExports;
}

/**
 * Bump allocator over the shared memory. Parameters and activation buffers are allocated once per
 * model; `mark`/`release` give stack-like scratch space.
 */
export class Arena {
  readonly memory: WebAssembly.Memory;
  private top = ARENA_BASE;

  constructor(initialBytes = 16 << 20) {
    const pages = Math.ceil((ARENA_BASE + initialBytes) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  }

  get usedBytes(): number {
    return this.top;
  }

  private reserve(bytes: number): number {
    const ptr = this.top;
    const end = ptr + bytes + SLACK_BYTES;
    const aligned = (end + 63) & ~63;
    const have = this.memory.buffer.byteLength;
    if (aligned > have) {
      const need = Math.ceil((aligned - have) / 65536);
      if (have / 65536 + need > MAX_PAGES) {
        throw new ValidationError(`kernel arena would exceed 4 GiB (asked for ${bytes} bytes)`, [
          { path: 'bytes', message: 'too large' },
        ]);
      }
      this.memory.grow(need);
    }
    this.top = aligned;
    return ptr;
  }

  f32(n: number): Float32Array {
    const ptr = this.reserve(n * 4);
    const a = new Float32Array(this.memory.buffer, ptr, n);
    a.fill(0);
    return a;
  }

  i32(n: number): Int32Array {
    const ptr = this.reserve(n * 4);
    const a = new Int32Array(this.memory.buffer, ptr, n);
    a.fill(0);
    return a;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark > this.top || mark < ARENA_BASE) throw new RangeError(`bad arena mark ${mark}`);
    this.top = mark;
  }
}

/** Byte offset of an arena view, asserting it really lives in kernel memory. */
export function ptr(a: Float32Array | Int32Array): number {
  if (!(a.buffer instanceof SharedArrayBuffer)) throw new TypeError('kernel argument is not an arena buffer');
  return a.byteOffset;
}
