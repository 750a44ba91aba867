// Hot loops for the learned models, compiled by AssemblyScript to WebAssembly with 128-bit SIMD.
// Why: a register-blocked f32x4 matmul reaches ~40 GFLOPS on one core here, far above JS loops or tfjs.
// Every exported kernel has a naive TypeScript twin in src/models/kernels/reference.ts; tests compare them.
//
// Conventions: all pointers are byte offsets into the (imported, shared) linear memory; all strides and
// sizes are in elements (f32 or i32). Kernels allocate nothing. Buffers handed to matmul must have at
// least 32 bytes of slack after their last element (the arena guarantees it): column edges are computed
// with full 8-lane blocks whose extra lanes are read but never stored.

// ---------------------------------------------------------------------------------------------------
// Matrix multiply: C[M,N] (+)= A·B with a(i,k) = A[i*sai + k*sak], b(k,j) = B[k*ldb + j],
// c(i,j) = C[i*ldc + j]. Covers A·B (sai=K, sak=1), Aᵀ·B (sai=1, sak=M); A·Bᵀ goes through transpose().
// 4×8 register blocking: 8 f32x4 accumulators, 2 B vectors, 4 broadcast A values per k.
// Columns are processed in panels so the B panel stays in cache while all rows stream past it.
// ---------------------------------------------------------------------------------------------------

const PANEL: i32 = 128;
const KBLOCK: i32 = 256;

export function matmul(
  A: usize, B: usize, C: usize, M: i32, N: i32, K: i32,
  sai: i32, sak: i32, ldb: i32, ldc: i32, accumulate: i32,
): void {
  matmulRows(A, B, C, 0, M, N, K, sai, sak, ldb, ldc, accumulate);
}

/** Rows [i0, i1) of matmul (the unit of work split across threads). */
export function matmulRows(
  A: usize, B: usize, C: usize, i0: i32, i1: i32, N: i32, K: i32,
  sai: i32, sak: i32, ldb: i32, ldc: i32, accumulate: i32,
): void {
  const sakB = <usize>sak << 2;
  const ldbB = <usize>ldb << 2;
  for (let jp = 0; jp < N; jp += PANEL) {
    const jEnd = min(N, jp + PANEL);
    for (let kk = 0; kk < K; kk += KBLOCK) {
      const kn = min(KBLOCK, K - kk);
      const acc = kk > 0 ? 1 : accumulate;
      const aK = (<usize>kk * <usize>sak) << 2;
      const bK = B + ((<usize>kk * <usize>ldb) << 2);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        const ai = A + ((<usize>i * <usize>sai) << 2) + aK;
        const ci = C + ((<usize>i * <usize>ldc) << 2);
        for (let j = jp; j < jEnd; j += 8) {
          block4x8(ai, sai, sakB, bK + (<usize>j << 2), ldbB, kn, ci + (<usize>j << 2), ldc, min(8, jEnd - j), acc);
        }
      }
      for (; i < i1; i++) {
        const ai = A + ((<usize>i * <usize>sai) << 2) + aK;
        const ci = C + ((<usize>i * <usize>ldc) << 2);
        for (let j = jp; j < jEnd; j += 8) {
          block1x8(ai, sakB, bK + (<usize>j << 2), ldbB, kn, ci + (<usize>j << 2), min(8, jEnd - j), acc);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function storeLanes(p: usize, v: v128, lanes: i32, accumulate: i32): void {
  // Stores the first `lanes` (1..4) lanes of v at p, adding to what is there when accumulating.
  if (lanes >= 4) {
    if (accumulate) v = f32x4.add(v, v128.load(p));
    v128.store(p, v);
    return;
  }
  if (lanes <= 0) return;
  store<f32>(p, f32x4.extract_lane(v, 0) + (accumulate ? load<f32>(p) : 0));
  if (lanes >= 2) store<f32>(p + 4, f32x4.extract_lane(v, 1) + (accumulate ? load<f32>(p + 4) : 0));
  if (lanes >= 3) store<f32>(p + 8, f32x4.extract_lane(v, 2) + (accumulate ? load<f32>(p + 8) : 0));
}

function block4x8(
  a: usize, sai: i32, sakB: usize, b: usize, ldbB: usize, K: i32,
  c: usize, ldc: i32, cols: i32, accumulate: i32,
): void {
  const saiB = <usize>sai << 2;
  const a1 = a + saiB, a2 = a1 + saiB, a3 = a2 + saiB;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let off: usize = 0;
  let pb = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(a + off);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a1 + off);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a2 + off);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a3 + off);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    off += sakB;
    pb += ldbB;
  }
  const ldcB = <usize>ldc << 2;
  const lo = min(cols, 4), hi = cols - 4;
  storeLanes(c, c00, lo, accumulate);
  storeLanes(c + 16, c01, hi, accumulate);
  storeLanes(c + ldcB, c10, lo, accumulate);
  storeLanes(c + ldcB + 16, c11, hi, accumulate);
  storeLanes(c + 2 * ldcB, c20, lo, accumulate);
  storeLanes(c + 2 * ldcB + 16, c21, hi, accumulate);
  storeLanes(c + 3 * ldcB, c30, lo, accumulate);
  storeLanes(c + 3 * ldcB + 16, c31, hi, accumulate);
}

function block1x8(
  a: usize, sakB: usize, b: usize, ldbB: usize, K: i32, c: usize, cols: i32, accumulate: i32,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let off: usize = 0;
  let pb = b;
  for (let k = 0; k < K; k++) {
    const av = v128.load32_splat(a + off);
    c0 = f32x4.add(c0, f32x4.mul(av, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(av, v128.load(pb, 16)));
    off += sakB;
    pb += ldbB;
  }
  storeLanes(c, c0, min(cols, 4), accumulate);
  storeLanes(c + 16, c1, cols - 4, accumulate);
}

/** out[C,R] = in[R,C]ᵀ where in has row stride ldIn (elements). */
export function transpose(inp: usize, out: usize, R: i32, C: i32, ldIn: i32): void {
  const TB = 32;
  for (let r0 = 0; r0 < R; r0 += TB) {
    const r1 = min(R, r0 + TB);
    for (let c0 = 0; c0 < C; c0 += TB) {
      const c1 = min(C, c0 + TB);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          store<f32>(out + ((<usize>c * <usize>R + <usize>r) << 2), load<f32>(inp + ((<usize>r * <usize>ldIn + <usize>c) << 2)));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Element-wise and row-wise kernels.
// ---------------------------------------------------------------------------------------------------

/** y[T,n] += bias[n] broadcast over rows. */
export function addBias(y: usize, bias: usize, T: i32, n: i32): void {
  for (let t = 0; t < T; t++) {
    const row = y + ((<usize>t * <usize>n) << 2);
    for (let j = 0; j < n; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) + load<f32>(bias + (<usize>j << 2)));
  }
}

/** db[n] += Σ_t dy[t, :]. */
export function colSum(dy: usize, db: usize, T: i32, n: i32): void {
  for (let t = 0; t < T; t++) {
    const row = dy + ((<usize>t * <usize>n) << 2);
    for (let j = 0; j < n; j++) store<f32>(db + (<usize>j << 2), load<f32>(db + (<usize>j << 2)) + load<f32>(row + (<usize>j << 2)));
  }
}

/** y[i] += x[i] for n elements (residual connections, gradient accumulation). */
export function addInto(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.add(v128.load(y + p), v128.load(x + p)));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), load<f32>(y + (<usize>i << 2)) + load<f32>(x + (<usize>i << 2)));
}

/** y[i] *= m[i] (dropout forward and backward with a stored multiplier mask). */
export function mulInto(y: usize, m: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = <usize>i << 2;
    v128.store(y + p, f32x4.mul(v128.load(y + p), v128.load(m + p)));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), load<f32>(y + (<usize>i << 2)) * load<f32>(m + (<usize>i << 2)));
}

// @ts-ignore: decorator
@inline
function mix32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

/**
 * Inverted dropout: mask[i] = 0 with probability p else 1/(1-p); x[i] *= mask[i].
 * The random bits are a hash of (seed, i), so a batch's masks depend only on its seed.
 */
export function dropout(x: usize, mask: usize, n: i32, p: f32, seed: u32): void {
  const keep: f32 = 1 / (1 - p);
  const threshold = <u32>(<f64>p * 4294967296.0);
  const s = mix32(seed ^ 0x9e3779b9);
  // Four lanes at a time: the same hash as the scalar tail, so masks do not depend on alignment.
  const golden = i32x4.splat(0x9e3779b9);
  let idx = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  const sv = i32x4.splat(s);
  const thr = i32x4.splat(threshold ^ 0x80000000);
  const keepV = f32x4.splat(keep);
  const flip = i32x4.splat(0x80000000);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let r = i32x4.add(sv, i32x4.mul(idx, golden));
    r = v128.xor(r, i32x4.shr_u(r, 16));
    r = i32x4.mul(r, i32x4.splat(0x7feb352d));
    r = v128.xor(r, i32x4.shr_u(r, 15));
    r = i32x4.mul(r, i32x4.splat(0x846ca68b));
    r = v128.xor(r, i32x4.shr_u(r, 16));
    // unsigned r < threshold  ⇔  signed (r ^ 2³¹) < (threshold ^ 2³¹)
    const drop = i32x4.lt_s(v128.xor(r, flip), thr);
    const m = v128.andnot(keepV, drop);
    const o = <usize>i << 2;
    v128.store(mask + o, m);
    v128.store(x + o, f32x4.mul(v128.load(x + o), m));
    idx = i32x4.add(idx, four);
  }
  for (; i < n; i++) {
    const r = mix32(s + <u32>i * 0x9e3779b9);
    const m: f32 = r < threshold ? 0 : keep;
    store<f32>(mask + (<usize>i << 2), m);
    store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * m);
  }
}

/** out = relu(x) (out may alias x). */
export function reluFwd(x: usize, out: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = <usize>i << 2;
    v128.store(out + p, f32x4.max(v128.load(x + p), z));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), max<f32>(load<f32>(x + (<usize>i << 2)), 0));
}

/** dx[i] = dy[i] if pre[i] > 0 else 0 (dx may alias dy). */
export function reluBwd(pre: usize, dy: usize, dx: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = <usize>i << 2;
    store<f32>(dx + p, load<f32>(pre + p) > 0 ? load<f32>(dy + p) : 0);
  }
}

const GELU_C: f32 = 0.7978845608028654; // sqrt(2/pi)

/** out = gelu(x), tanh approximation (Hendrycks & Gimpel 2016). */
export function geluFwd(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = <usize>i << 2;
    const v = load<f32>(x + p);
    const u: f32 = GELU_C * (v + <f32>0.044715 * v * v * v);
    store<f32>(out + p, 0.5 * v * (1 + tanhf(u)));
  }
}

/** dx = dy · gelu'(pre) (dx may alias dy). */
export function geluBwd(pre: usize, dy: usize, dx: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = <usize>i << 2;
    const v = load<f32>(pre + p);
    const u: f32 = GELU_C * (v + <f32>0.044715 * v * v * v);
    const th = tanhf(u);
    const du: f32 = GELU_C * (1 + <f32>0.134145 * v * v);
    const g: f32 = <f32>0.5 * (1 + th) + <f32>0.5 * v * (1 - th * th) * du;
    store<f32>(dx + p, load<f32>(dy + p) * g);
  }
}

// @ts-ignore: decorator
@inline
function tanhf(x: f32): f32 {
  // tanh via exp; clamped so exp never overflows.
  const c = min<f32>(max<f32>(x, -15), 15);
  const e = Mathf.exp(2 * c);
  return (e - 1) / (e + 1);
}

/** Layer norm over the last dim: out = (x-μ)/σ·γ + β; saves μ and 1/σ per row. x, out: [T,n]. */
export function layerNormFwd(x: usize, out: usize, mean: usize, rstd: usize, gamma: usize, beta: usize, T: i32, n: i32, eps: f32): void {
  for (let t = 0; t < T; t++) {
    const xr = x + ((<usize>t * <usize>n) << 2);
    const orow = out + ((<usize>t * <usize>n) << 2);
    let s: f32 = 0;
    for (let j = 0; j < n; j++) s += load<f32>(xr + (<usize>j << 2));
    const mu = s / <f32>n;
    let v: f32 = 0;
    for (let j = 0; j < n; j++) {
      const d = load<f32>(xr + (<usize>j << 2)) - mu;
      v += d * d;
    }
    const rs: f32 = 1 / Mathf.sqrt(v / <f32>n + eps);
    store<f32>(mean + (<usize>t << 2), mu);
    store<f32>(rstd + (<usize>t << 2), rs);
    for (let j = 0; j < n; j++) {
      const p = <usize>j << 2;
      store<f32>(orow + p, (load<f32>(xr + p) - mu) * rs * load<f32>(gamma + p) + load<f32>(beta + p));
    }
  }
}

/** Layer norm backward: dx += ..., dgamma += ..., dbeta += ... */
export function layerNormBwd(dout: usize, x: usize, mean: usize, rstd: usize, gamma: usize, dx: usize, dgamma: usize, dbeta: usize, T: i32, n: i32): void {
  for (let t = 0; t < T; t++) {
    const off = (<usize>t * <usize>n) << 2;
    const mu = load<f32>(mean + (<usize>t << 2));
    const rs = load<f32>(rstd + (<usize>t << 2));
    let sumG: f32 = 0;
    let sumGX: f32 = 0;
    for (let j = 0; j < n; j++) {
      const p = <usize>j << 2;
      const xh = (load<f32>(x + off + p) - mu) * rs;
      const dy = load<f32>(dout + off + p);
      const g = dy * load<f32>(gamma + p);
      sumG += g;
      sumGX += g * xh;
      store<f32>(dgamma + p, load<f32>(dgamma + p) + dy * xh);
      store<f32>(dbeta + p, load<f32>(dbeta + p) + dy);
    }
    const mG = sumG / <f32>n;
    const mGX = sumGX / <f32>n;
    for (let j = 0; j < n; j++) {
      const p = <usize>j << 2;
      const xh = (load<f32>(x + off + p) - mu) * rs;
      const g = load<f32>(dout + off + p) * load<f32>(gamma + p);
      store<f32>(dx + off + p, load<f32>(dx + off + p) + rs * (g - mG - xh * mGX));
    }
  }
}

/** x[t,:] = E[items[t],:]·scale + P[pos[t],:]. E: [numItems,d], P: [maxLen,d], x: [T,d]. */
export function embedFwd(E: usize, P: usize, items: usize, pos: usize, x: usize, T: i32, d: i32, scale: f32): void {
  for (let t = 0; t < T; t++) {
    const e = E + ((<usize>load<i32>(items + (<usize>t << 2)) * <usize>d) << 2);
    const pp = P + ((<usize>load<i32>(pos + (<usize>t << 2)) * <usize>d) << 2);
    const xr = x + ((<usize>t * <usize>d) << 2);
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(xr + o, load<f32>(e + o) * scale + load<f32>(pp + o));
    }
  }
}

/** Scatter-add: dE[items[t],:] += dx[t,:]·scale; dP[pos[t],:] += dx[t,:]. */
export function embedBwd(dE: usize, dP: usize, items: usize, pos: usize, dx: usize, T: i32, d: i32, scale: f32): void {
  for (let t = 0; t < T; t++) {
    const e = dE + ((<usize>load<i32>(items + (<usize>t << 2)) * <usize>d) << 2);
    const pp = dP + ((<usize>load<i32>(pos + (<usize>t << 2)) * <usize>d) << 2);
    const xr = dx + ((<usize>t * <usize>d) << 2);
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const g = load<f32>(xr + o);
      store<f32>(e + o, load<f32>(e + o) + g * scale);
      store<f32>(pp + o, load<f32>(pp + o) + g);
    }
  }
}

// exp(x) for four lanes: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 Taylor polynomial (relative
// error < 2e-7 on that interval), 2^n built in the exponent bits. Inputs are clamped to [-87, 88].
// @ts-ignore: decorator
@inline
function expV(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.4426950408889634)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693145751953125)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(1.0 / 720.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

/** Scalar twin of expV for loop tails (same polynomial, so results do not depend on alignment). */
function expS(x: f32): f32 {
  return f32x4.extract_lane(expV(f32x4.splat(x)), 0);
}

/** Exported for tests: out[i] = exp(x[i]) via the SIMD polynomial. */
export function expArray(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), expV(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), expS(load<f32>(x + (<usize>i << 2))));
}

/** Max of row[0..n). */
function rowMax(row: usize, n: i32): f32 {
  let mv = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) mv = f32x4.max(mv, v128.load(row + (<usize>j << 2)));
  let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; j < n; j++) mx = max(mx, load<f32>(row + (<usize>j << 2)));
  return mx;
}

/** row[j] = exp((row[j] − mx)·scale) for j < n; returns the sum. */
function rowExp(row: usize, n: i32, mx: f32, scale: f32): f32 {
  const mv = f32x4.splat(mx);
  const sv = f32x4.splat(scale);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const p = row + (<usize>j << 2);
    const e = expV(f32x4.mul(f32x4.sub(v128.load(p), mv), sv));
    v128.store(p, e);
    acc = f32x4.add(acc, e);
  }
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < n; j++) {
    const p = row + (<usize>j << 2);
    const e = expS((load<f32>(p) - mx) * scale);
    store<f32>(p, e);
    s += e;
  }
  return s;
}

/** row[j] *= a for j < n. */
function rowScale(row: usize, n: i32, a: f32): void {
  const av = f32x4.splat(a);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const p = row + (<usize>j << 2);
    v128.store(p, f32x4.mul(v128.load(p), av));
  }
  for (; j < n; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) * a);
}

/**
 * Softmax cross-entropy over rows of logits [R,N] with target[r] (−1 = ignore row). Overwrites logits
 * with ∂loss/∂logits · gradScale and returns Σ_r loss_r (nats).
 */
export function softmaxXent(logits: usize, targets: usize, R: i32, N: i32, gradScale: f32): f64 {
  let total: f64 = 0;
  for (let r = 0; r < R; r++) {
    const row = logits + ((<usize>r * <usize>N) << 2);
    const tgt = load<i32>(targets + (<usize>r << 2));
    if (tgt < 0) {
      memory.fill(row, 0, <usize>N << 2);
      continue;
    }
    const tp = row + (<usize>tgt << 2);
    const mx = rowMax(row, N);
    const zt = load<f32>(tp) - mx;
    const s = rowExp(row, N, mx, 1);
    total += Math.log(<f64>s) - <f64>zt;
    rowScale(row, N, gradScale / s);
    store<f32>(tp, load<f32>(tp) - gradScale);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------
// Causal self-attention over packed variable-length sequences. Sequence b occupies token rows
// [seg[b], seg[b+1]); q, k, v and out rows have stride ld (elements); head h uses columns
// [h·dh, (h+1)·dh). probs stores P for every sequence and head back to back ([H, n, n] per sequence).
// scratch needs 2·dh·maxLen + maxLen² floats (+ slack).
// ---------------------------------------------------------------------------------------------------

export function attentionFwd(
  q: usize, k: usize, v: usize, ldqkv: i32, out: usize, ldo: i32, probs: usize, seg: usize,
  B: i32, H: i32, dh: i32, scale: f32, scratch: usize,
): void {
  let pOff: usize = probs;
  for (let b = 0; b < B; b++) {
    const s0 = load<i32>(seg + (<usize>b << 2));
    const n = load<i32>(seg + (<usize>(b + 1) << 2)) - s0;
    for (let h = 0; h < H; h++) {
      const col = <usize>(h * dh) << 2;
      const qh = q + ((<usize>s0 * <usize>ldqkv) << 2) + col;
      const kh = k + ((<usize>s0 * <usize>ldqkv) << 2) + col;
      const vh = v + ((<usize>s0 * <usize>ldqkv) << 2) + col;
      const oh = out + ((<usize>s0 * <usize>ldo) << 2) + col;
      // kt: [dh, n]
      transpose(kh, scratch, n, dh, ldqkv);
      // S = Q·Kᵀ: [n, n]
      matmulRows(qh, scratch, pOff, 0, n, n, dh, ldqkv, 1, n, n, 0);
      causalSoftmax(pOff, n, scale);
      // O = P·V: [n, dh]
      matmulRows(pOff, vh, oh, 0, n, dh, n, n, 1, ldqkv, ldo, 0);
      pOff += (<usize>n * <usize>n) << 2;
    }
  }
}

function causalSoftmax(S: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const row = S + ((<usize>i * <usize>n) << 2);
    const mx = rowMax(row, i + 1);
    const s = rowExp(row, i + 1, mx, scale);
    rowScale(row, i + 1, 1 / s);
    if (i + 1 < n) memory.fill(row + (<usize>(i + 1) << 2), 0, <usize>(n - i - 1) << 2);
  }
}

/** Backward of attentionFwd: dq, dk, dv (stride ldqkv) are overwritten for the rows of each sequence. */
export function attentionBwd(
  q: usize, k: usize, v: usize, ldqkv: i32, dout: usize, ldo: i32, probs: usize, seg: usize,
  dq: usize, dk: usize, dv: usize, B: i32, H: i32, dh: i32, scale: f32, scratch: usize,
): void {
  let pOff: usize = probs;
  for (let b = 0; b < B; b++) {
    const s0 = load<i32>(seg + (<usize>b << 2));
    const n = load<i32>(seg + (<usize>(b + 1) << 2)) - s0;
    const dS = scratch;
    const vt = scratch + ((<usize>n * <usize>n) << 2);
    for (let h = 0; h < H; h++) {
      const col = <usize>(h * dh) << 2;
      const rowOff = (<usize>s0 * <usize>ldqkv) << 2;
      const qh = q + rowOff + col, kh = k + rowOff + col, vh = v + rowOff + col;
      const dqh = dq + rowOff + col, dkh = dk + rowOff + col, dvh = dv + rowOff + col;
      const doh = dout + ((<usize>s0 * <usize>ldo) << 2) + col;
      // dV = Pᵀ·dO: [n, dh]
      matmulRows(pOff, doh, dvh, 0, n, dh, n, 1, n, ldo, ldqkv, 0);
      // dP = dO·Vᵀ: [n, n]
      transpose(vh, vt, n, dh, ldqkv);
      matmulRows(doh, vt, dS, 0, n, n, dh, ldo, 1, n, n, 0);
      // dS = P ⊙ (dP − Σ_j dP⊙P)·scale
      for (let i = 0; i < n; i++) {
        const pr = pOff + ((<usize>i * <usize>n) << 2);
        const dr = dS + ((<usize>i * <usize>n) << 2);
        let dot: f32 = 0;
        for (let j = 0; j <= i; j++) dot += load<f32>(pr + (<usize>j << 2)) * load<f32>(dr + (<usize>j << 2));
        for (let j = 0; j <= i; j++) {
          const o = <usize>j << 2;
          store<f32>(dr + o, load<f32>(pr + o) * (load<f32>(dr + o) - dot) * scale);
        }
        for (let j = i + 1; j < n; j++) store<f32>(dr + (<usize>j << 2), 0);
      }
      // dQ = dS·K, dK = dSᵀ·Q
      matmulRows(dS, kh, dqh, 0, n, dh, n, n, 1, ldqkv, ldqkv, 0);
      matmulRows(dS, qh, dkh, 0, n, dh, n, 1, n, ldqkv, ldqkv, 0);
      pOff += (<usize>n * <usize>n) << 2;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Optimiser.
// ---------------------------------------------------------------------------------------------------

/** Σ x[i]² in f64 (global gradient norm for clipping). */
export function sumSquares(x: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/** x[i] *= a. */
export function scale(x: usize, n: i32, a: f32): void {
  for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * a);
}

/**
 * AdamW (Loshchilov & Hutter 2019): decoupled weight decay applied as p -= lr·wd·p.
 * bc1 = 1 − β1^t, bc2 = 1 − β2^t. Gradients are multiplied by gradScale first (clipping).
 */
export function adamw(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32, gradScale: f32,
): void {
  const stepSize = lr / bc1;
  const rbc2: f32 = <f32>1 / Mathf.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o) * gradScale;
    const mi = b1 * load<f32>(m + o) + (1 - b1) * gi;
    const vi = b2 * load<f32>(v + o) + (1 - b2) * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    let pi = load<f32>(p + o);
    pi -= lr * wd * pi;
    pi -= stepSize * mi / (Mathf.sqrt(vi) * rbc2 + eps);
    store<f32>(p + o, pi);
  }
}
