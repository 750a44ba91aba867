/**
 * Dense symmetric-positive-definite inverse on Float64Array, for EASE^R (Steck 2019), whose closed form
 * needs P = (XᵀX + λI)⁻¹ over the whole catalog (ML-1M: 3416² ≈ 11.7M doubles, ~2·10¹⁰ multiply-adds).
 *
 * Route (LAPACK's potrf → trtri → lauum, written for V8):
 *   1. Cholesky  A = L·Lᵀ            row-oriented "dot" form: L[i][j] = (A[i][j] − L[i][:j]·L[j][:j]) / L[j][j]
 *   2. Wᵀ = (L⁻¹)ᵀ into the upper triangle   Wᵀ[j][i] = −L[i][j..i)·Wᵀ[j][j..i) / L[i][i]
 *   3. P = Wᵀ·W into the lower triangle      P[i][j] = Wᵀ[i][i..n)·Wᵀ[j][i..n), j ≤ i
 * All three are dot products of contiguous row segments and run in place (L, Wᵀ and P share one buffer).
 * Each step walks a block of ROW_BLOCK output rows against one streamed row at a time, so the block stays
 * in L2 while the other operand is read once per block instead of once per row (the matrix does not fit
 * in cache); the inner loops handle 4 rows at once so one load of the streamed row feeds 4 multiply-adds.
 * `spdInverseNaive` is the slow textbook reference (Gauss-Jordan) the tests compare against.
 */
import { ValidationError } from '../core/errors.js';

/** Rows per block: 32 rows × 3416 doubles ≈ 0.9 MB, about an L2. Each block is one unit of parallel work. */
export const ROW_BLOCK = 32;

/**
 * In-place Cholesky factorisation. a: [n, n] row-major symmetric positive definite; on return its lower
 * triangle (diagonal included) holds L with A = L·Lᵀ; the strict upper triangle is zeroed.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  assertSquare(a, n);
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const i1 = Math.min(n, i0 + ROW_BLOCK);
    choleskyPanelRows(a, n, i0, i0, i1);
    choleskyDiagonalBlock(a, n, i0);
  }
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
}

/**
 * Cholesky, block of rows starting at i0, columns before the block (j < i0), rows [r0, r1) only: every
 * row is independent here, so threads can split them. 4 rows share each load of row j.
 */
export function choleskyPanelRows(a: Float64Array, n: number, i0: number, rowStart: number, rowEnd: number): void {
  let j = 0;
  // Two columns j, j+1 at a time: 4 rows × 2 columns share 6 loads per 8 multiply-adds. Column j+1's dot
  // also needs L[i][j], known only after column j is finished: added as the last term.
  for (; j + 2 <= i0; j += 2) {
    const rj = j * n;
    const rj1 = rj + n;
    const inv = 1 / a[rj + j];
    const inv1 = 1 / a[rj1 + j + 1];
    const l10 = a[rj1 + j];
    let i = rowStart;
    for (; i + 4 <= rowEnd; i += 4) {
      const r0 = i * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let k = 0; k < j; k++) {
        const l = a[rj + k];
        const m = a[rj1 + k];
        const x0 = a[r0 + k];
        const x1 = a[r1 + k];
        const x2 = a[r2 + k];
        const x3 = a[r3 + k];
        s0 += x0 * l;
        s1 += x1 * l;
        s2 += x2 * l;
        s3 += x3 * l;
        t0 += x0 * m;
        t1 += x1 * m;
        t2 += x2 * m;
        t3 += x3 * m;
      }
      const y0 = (a[r0 + j] - s0) * inv;
      const y1 = (a[r1 + j] - s1) * inv;
      const y2 = (a[r2 + j] - s2) * inv;
      const y3 = (a[r3 + j] - s3) * inv;
      a[r0 + j] = y0;
      a[r1 + j] = y1;
      a[r2 + j] = y2;
      a[r3 + j] = y3;
      a[r0 + j + 1] = (a[r0 + j + 1] - t0 - y0 * l10) * inv1;
      a[r1 + j + 1] = (a[r1 + j + 1] - t1 - y1 * l10) * inv1;
      a[r2 + j + 1] = (a[r2 + j + 1] - t2 - y2 * l10) * inv1;
      a[r3 + j + 1] = (a[r3 + j + 1] - t3 - y3 * l10) * inv1;
    }
    for (; i < rowEnd; i++) {
      choleskyEntry(a, n, i, j);
      choleskyEntry(a, n, i, j + 1);
    }
  }
  for (; j < i0; j++) for (let i = rowStart; i < rowEnd; i++) choleskyEntry(a, n, i, j);
}

/** L[i][j] for one entry below the diagonal (j < i), from finished columns < j. */
function choleskyEntry(a: Float64Array, n: number, i: number, j: number): void {
  const ri = i * n;
  const rj = j * n;
  let s = 0;
  for (let k = 0; k < j; k++) s += a[ri + k] * a[rj + k];
  a[ri + j] = (a[ri + j] - s) / a[rj + j];
}

/** Cholesky, the triangle inside the block starting at i0 (sequential in j; after the panel rows). */
export function choleskyDiagonalBlock(a: Float64Array, n: number, i0: number): void {
  const i1 = Math.min(n, i0 + ROW_BLOCK);
  for (let j = i0; j < i1; j++) {
    const rj = j * n;
    for (let i = j; i < i1; i++) {
      const ri = i * n;
      let s = 0;
      for (let k = 0; k < j; k++) s += a[ri + k] * a[rj + k];
      const v = a[ri + j] - s;
      if (i === j) {
        if (!(v > 0)) {
          throw new ValidationError(`matrix is not positive definite (pivot ${j} = ${v})`, [
            { path: 'lambda', message: 'increase the regularisation' },
          ]);
        }
        a[rj + j] = Math.sqrt(v);
      } else {
        a[ri + j] = v / a[rj + j];
      }
    }
  }
}

/**
 * In-place inverse of a symmetric positive definite matrix. a: [n, n] row-major; on return a = A⁻¹
 * (full symmetric). Throws ValidationError when A is not positive definite.
 */
export function spdInverseInPlace(a: Float64Array, n: number): void {
  choleskyInPlace(a, n);
  // diagL: [n] the diagonal of L (the diagonal slots are reused for Wᵀ below).
  const diagL = new Float64Array(n);
  for (let i = 0; i < n; i++) diagL[i] = a[i * n + i];
  for (let j0 = 0; j0 < n; j0 += ROW_BLOCK) invertLowerIntoUpperBlock(a, n, diagL, j0);
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) upperGramIntoLowerBlock(a, n, i0);
  mirrorLowerToUpper(a, n);
}

export function mirrorLowerToUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i];
  }
}

/**
 * Step 2, for the block of Wᵀ rows starting at j0 (blocks are independent). Reads L from the strict lower triangle (diagonal from diagL) and writes Wᵀ = (L⁻¹)ᵀ into the
 * upper triangle including the diagonal: Wᵀ[j][i] = −(L[i][j..i) · Wᵀ[j][j..i)) / L[i][i] for i > j.
 * The two triangles do not overlap, so no extra n×n buffer is needed.
 */
export function invertLowerIntoUpperBlock(a: Float64Array, n: number, diagL: Float64Array, j0: number): void {
  const j1 = Math.min(n, j0 + ROW_BLOCK);
  for (let j = j0; j < j1; j++) a[j * n + j] = 1 / diagL[j];
  let i = j0 + 1;
  // Columns inside the block: the rows that get an entry (j < i) change with i, one column at a time.
  for (; i < n && i < j1; i++) invertColumn(a, n, diagL, j0, i, i);
  // Past the block every row gets one: columns i, i+1 share each load of the block's rows.
  for (; i + 2 <= n; i += 2) invertColumnPair(a, n, diagL, j0, j1, i);
  if (i < n) invertColumn(a, n, diagL, j0, j1, i);
}

/** Wᵀ[j][i] for block rows j in [j0, jEnd), jEnd ≤ i. */
function invertColumn(a: Float64Array, n: number, diagL: Float64Array, j0: number, jEnd: number, i: number): void {
  const ri = i * n;
  const inv = -1 / diagL[i];
  let j = j0;
  for (; j + 4 <= jEnd; j += 4) {
    const r0 = j * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    // Ragged start: row j+t's dot begins at column j+t.
    let s0 = a[ri + j] * a[r0 + j] + a[ri + j + 1] * a[r0 + j + 1] + a[ri + j + 2] * a[r0 + j + 2];
    let s1 = a[ri + j + 1] * a[r1 + j + 1] + a[ri + j + 2] * a[r1 + j + 2];
    let s2 = a[ri + j + 2] * a[r2 + j + 2];
    let s3 = 0;
    for (let k = j + 3; k < i; k++) {
      const l = a[ri + k];
      s0 += l * a[r0 + k];
      s1 += l * a[r1 + k];
      s2 += l * a[r2 + k];
      s3 += l * a[r3 + k];
    }
    a[r0 + i] = s0 * inv;
    a[r1 + i] = s1 * inv;
    a[r2 + i] = s2 * inv;
    a[r3 + i] = s3 * inv;
  }
  for (; j < jEnd; j++) {
    const rj = j * n;
    let s = 0;
    for (let k = j; k < i; k++) s += a[ri + k] * a[rj + k];
    a[rj + i] = s * inv;
  }
}

/** Wᵀ[j][i] and Wᵀ[j][i+1] for all block rows (i ≥ j1); column i+1 adds L[i+1][i]·Wᵀ[j][i] last. */
function invertColumnPair(a: Float64Array, n: number, diagL: Float64Array, j0: number, j1: number, i: number): void {
  const ri = i * n;
  const ri1 = ri + n;
  const inv = -1 / diagL[i];
  const inv1 = -1 / diagL[i + 1];
  const l10 = a[ri1 + i];
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const r0 = j * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = a[ri + j] * a[r0 + j] + a[ri + j + 1] * a[r0 + j + 1] + a[ri + j + 2] * a[r0 + j + 2];
    let t0 = a[ri1 + j] * a[r0 + j] + a[ri1 + j + 1] * a[r0 + j + 1] + a[ri1 + j + 2] * a[r0 + j + 2];
    let s1 = a[ri + j + 1] * a[r1 + j + 1] + a[ri + j + 2] * a[r1 + j + 2];
    let t1 = a[ri1 + j + 1] * a[r1 + j + 1] + a[ri1 + j + 2] * a[r1 + j + 2];
    let s2 = a[ri + j + 2] * a[r2 + j + 2];
    let t2 = a[ri1 + j + 2] * a[r2 + j + 2];
    let s3 = 0;
    let t3 = 0;
    for (let k = j + 3; k < i; k++) {
      const l = a[ri + k];
      const m = a[ri1 + k];
      const w0 = a[r0 + k];
      const w1 = a[r1 + k];
      const w2 = a[r2 + k];
      const w3 = a[r3 + k];
      s0 += l * w0;
      s1 += l * w1;
      s2 += l * w2;
      s3 += l * w3;
      t0 += m * w0;
      t1 += m * w1;
      t2 += m * w2;
      t3 += m * w3;
    }
    const y0 = s0 * inv;
    const y1 = s1 * inv;
    const y2 = s2 * inv;
    const y3 = s3 * inv;
    a[r0 + i] = y0;
    a[r1 + i] = y1;
    a[r2 + i] = y2;
    a[r3 + i] = y3;
    a[r0 + i + 1] = (t0 + l10 * y0) * inv1;
    a[r1 + i + 1] = (t1 + l10 * y1) * inv1;
    a[r2 + i + 1] = (t2 + l10 * y2) * inv1;
    a[r3 + i + 1] = (t3 + l10 * y3) * inv1;
  }
  for (; j < j1; j++) {
    const rj = j * n;
    let s = 0;
    let t = 0;
    for (let k = j; k < i; k++) {
      s += a[ri + k] * a[rj + k];
      t += a[ri1 + k] * a[rj + k];
    }
    const y = s * inv;
    a[rj + i] = y;
    a[rj + i + 1] = (t + l10 * y) * inv1;
  }
}

/**
 * Step 3, for the block of P rows starting at i0 (blocks are independent). Reads Wᵀ from the upper triangle and writes P = Wᵀ·W into the lower triangle including the
 * diagonal: P[i][j] = Wᵀ[i][i..n) · Wᵀ[j][i..n) for j ≤ i. A diagonal slot is overwritten only after the
 * last dot that reads it (its own row's), so this too runs in place.
 */
export function upperGramIntoLowerBlock(a: Float64Array, n: number, i0: number): void {
  const i1 = Math.min(n, i0 + ROW_BLOCK);
  let j = 0;
  // Columns before the block: two at a time, 4 rows × 2 columns per load group.
  for (; j + 2 <= i0; j += 2) gramColumnPair(a, n, i0, i1, j);
  for (; j < i1; j++) gramColumn(a, n, i0, i1, j);
}

/** P[i][j] for block rows i in [max(i0, j), i1). */
function gramColumn(a: Float64Array, n: number, i0: number, i1: number, j: number): void {
  const rj = j * n;
  let i = Math.max(i0, j);
  for (; i + 4 <= i1; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    // Ragged start: row i+t's dot begins at column i+t.
    let s0 = a[r0 + i] * a[rj + i] + a[r0 + i + 1] * a[rj + i + 1] + a[r0 + i + 2] * a[rj + i + 2];
    let s1 = a[r1 + i + 1] * a[rj + i + 1] + a[r1 + i + 2] * a[rj + i + 2];
    let s2 = a[r2 + i + 2] * a[rj + i + 2];
    let s3 = 0;
    for (let k = i + 3; k < n; k++) {
      const w = a[rj + k];
      s0 += a[r0 + k] * w;
      s1 += a[r1 + k] * w;
      s2 += a[r2 + k] * w;
      s3 += a[r3 + k] * w;
    }
    a[r0 + j] = s0;
    a[r1 + j] = s1;
    a[r2 + j] = s2;
    a[r3 + j] = s3;
  }
  for (; i < i1; i++) {
    const ri = i * n;
    let s = 0;
    for (let k = i; k < n; k++) s += a[ri + k] * a[rj + k];
    a[ri + j] = s;
  }
}

/** P[i][j] and P[i][j+1] for all block rows (j + 1 < i0). */
function gramColumnPair(a: Float64Array, n: number, i0: number, i1: number, j: number): void {
  const rj = j * n;
  const rj1 = rj + n;
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = a[r0 + i] * a[rj + i] + a[r0 + i + 1] * a[rj + i + 1] + a[r0 + i + 2] * a[rj + i + 2];
    let t0 = a[r0 + i] * a[rj1 + i] + a[r0 + i + 1] * a[rj1 + i + 1] + a[r0 + i + 2] * a[rj1 + i + 2];
    let s1 = a[r1 + i + 1] * a[rj + i + 1] + a[r1 + i + 2] * a[rj + i + 2];
    let t1 = a[r1 + i + 1] * a[rj1 + i + 1] + a[r1 + i + 2] * a[rj1 + i + 2];
    let s2 = a[r2 + i + 2] * a[rj + i + 2];
    let t2 = a[r2 + i + 2] * a[rj1 + i + 2];
    let s3 = 0;
    let t3 = 0;
    for (let k = i + 3; k < n; k++) {
      const w = a[rj + k];
      const v = a[rj1 + k];
      const x0 = a[r0 + k];
      const x1 = a[r1 + k];
      const x2 = a[r2 + k];
      const x3 = a[r3 + k];
      s0 += x0 * w;
      s1 += x1 * w;
      s2 += x2 * w;
      s3 += x3 * w;
      t0 += x0 * v;
      t1 += x1 * v;
      t2 += x2 * v;
      t3 += x3 * v;
    }
    a[r0 + j] = s0;
    a[r1 + j] = s1;
    a[r2 + j] = s2;
    a[r3 + j] = s3;
    a[r0 + j + 1] = t0;
    a[r1 + j + 1] = t1;
    a[r2 + j + 1] = t2;
    a[r3 + j + 1] = t3;
  }
  for (; i < i1; i++) {
    const ri = i * n;
    let s = 0;
    let t = 0;
    for (let k = i; k < n; k++) {
      s += a[ri + k] * a[rj + k];
      t += a[ri + k] * a[rj1 + k];
    }
    a[ri + j] = s;
    a[ri + j + 1] = t;
  }
}

/** Reference inverse by Gauss-Jordan elimination with partial pivoting (slow, for tests). */
export function spdInverseNaive(a: Float64Array, n: number): Float64Array {
  assertSquare(a, n);
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (m[p * n + c] === 0) throw new ValidationError('matrix is singular');
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        [m[p * n + k], m[c * n + k]] = [m[c * n + k], m[p * n + k]];
        [inv[p * n + k], inv[c * n + k]] = [inv[c * n + k], inv[p * n + k]];
      }
    }
    const d = 1 / m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] *= d;
      inv[c * n + k] *= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

function assertSquare(a: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) {
    throw new ValidationError(`matrix has ${a.length} entries, expected ${n}×${n}`);
  }
}
