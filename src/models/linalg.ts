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

const ROW_BLOCK = 32;

/**
 * In-place Cholesky factorisation. a: [n, n] row-major symmetric positive definite; on return its lower
 * triangle (diagonal included) holds L with A = L·Lᵀ; the strict upper triangle is zeroed.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  assertSquare(a, n);
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const i1 = Math.min(n, i0 + ROW_BLOCK);
    // Columns before the block: every row of the block is independent, 4 rows share each load of row j.
    for (let j = 0; j < i0; j++) {
      const rj = j * n;
      const inv = 1 / a[rj + j];
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        const r0 = i * n;
        const r1 = r0 + n;
        const r2 = r1 + n;
        const r3 = r2 + n;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = 0; k < j; k++) {
          const l = a[rj + k];
          s0 += a[r0 + k] * l;
          s1 += a[r1 + k] * l;
          s2 += a[r2 + k] * l;
          s3 += a[r3 + k] * l;
        }
        a[r0 + j] = (a[r0 + j] - s0) * inv;
        a[r1 + j] = (a[r1 + j] - s1) * inv;
        a[r2 + j] = (a[r2 + j] - s2) * inv;
        a[r3 + j] = (a[r3 + j] - s3) * inv;
      }
      for (; i < i1; i++) {
        const ri = i * n;
        let s = 0;
        for (let k = 0; k < j; k++) s += a[ri + k] * a[rj + k];
        a[ri + j] = (a[ri + j] - s) * inv;
      }
    }
    // The triangle inside the block: sequential in j.
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
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
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
  invertLowerIntoUpper(a, n, diagL);
  upperGramIntoLower(a, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i];
  }
}

/**
 * Step 2. Reads L from the strict lower triangle (diagonal from diagL) and writes Wᵀ = (L⁻¹)ᵀ into the
 * upper triangle including the diagonal: Wᵀ[j][i] = −(L[i][j..i) · Wᵀ[j][j..i)) / L[i][i] for i > j.
 * The two triangles do not overlap, so no extra n×n buffer is needed.
 */
function invertLowerIntoUpper(a: Float64Array, n: number, diagL: Float64Array): void {
  for (let j0 = 0; j0 < n; j0 += ROW_BLOCK) {
    const j1 = Math.min(n, j0 + ROW_BLOCK);
    for (let j = j0; j < j1; j++) a[j * n + j] = 1 / diagL[j];
    for (let i = j0 + 1; i < n; i++) {
      const ri = i * n;
      const inv = -1 / diagL[i];
      const jEnd = Math.min(j1, i); // rows j < i of the block get an entry in column i
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
  }
}

/**
 * Step 3. Reads Wᵀ from the upper triangle and writes P = Wᵀ·W into the lower triangle including the
 * diagonal: P[i][j] = Wᵀ[i][i..n) · Wᵀ[j][i..n) for j ≤ i. A diagonal slot is overwritten only after the
 * last dot that reads it (its own row's), so this too runs in place.
 */
function upperGramIntoLower(a: Float64Array, n: number): void {
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const i1 = Math.min(n, i0 + ROW_BLOCK);
    for (let j = 0; j < i1; j++) {
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
