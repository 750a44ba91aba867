/**
 * Naive TypeScript twins of the WASM SIMD kernels in asm/kernels.as.ts (the llm.c habit: a slow,
 * obviously-correct reference beside every fast kernel). Same argument order and semantics, but on plain
 * typed arrays with element offsets folded into subarrays. Used only by tests and for debugging.
 */

/** C[M,N] (+)= A·B with a(i,k) = A[i*sai + k*sak], b(k,j) = B[k*ldb + j], c(i,j) = C[i*ldc + j]. */
export function matmul(
  A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number,
  sai: number, sak: number, ldb: number, ldc: number, accumulate: boolean,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[i * sai + k * sak] * B[k * ldb + j];
      C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
    }
  }
}

/** out[C,R] = in[R,C]ᵀ, in with row stride ldIn. */
export function transpose(inp: Float32Array, out: Float32Array, R: number, C: number, ldIn: number): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = inp[r * ldIn + c];
}

export function addBias(y: Float32Array, bias: Float32Array, T: number, n: number): void {
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) y[t * n + j] += bias[j];
}

export function colSum(dy: Float32Array, db: Float32Array, T: number, n: number): void {
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) db[j] += dy[t * n + j];
}

function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export function dropout(x: Float32Array, mask: Float32Array, n: number, p: number, seed: number): void {
  const keep = Math.fround(1 / Math.fround(1 - p));
  const threshold = Math.floor(Math.fround(p) * 4294967296) >>> 0;
  const s = mix32((seed ^ 0x9e3779b9) >>> 0);
  for (let i = 0; i < n; i++) {
    const r = mix32((s + Math.imul(i, 0x9e3779b9)) >>> 0);
    mask[i] = r < threshold ? 0 : keep;
    x[i] *= mask[i];
  }
}

export function reluFwd(x: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = Math.max(x[i], 0);
}

export function reluBwd(pre: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = pre[i] > 0 ? dy[i] : 0;
}

const GELU_C = Math.sqrt(2 / Math.PI);

export function gelu(v: number): number {
  return 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
}

export function geluFwd(x: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = gelu(x[i]);
}

export function geluBwd(pre: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = pre[i];
    const th = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
    const g = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * GELU_C * (1 + 3 * 0.044715 * v * v);
    dx[i] = dy[i] * g;
  }
}

export function layerNormFwd(
  x: Float32Array, out: Float32Array, mean: Float32Array, rstd: Float32Array,
  gamma: Float32Array, beta: Float32Array, T: number, n: number, eps: number,
): void {
  for (let t = 0; t < T; t++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += x[t * n + j];
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[t * n + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / n + eps);
    mean[t] = mu;
    rstd[t] = rs;
    for (let j = 0; j < n; j++) out[t * n + j] = (x[t * n + j] - mu) * rs * gamma[j] + beta[j];
  }
}

export function layerNormBwd(
  dout: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, gamma: Float32Array,
  dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, T: number, n: number,
): void {
  for (let t = 0; t < T; t++) {
    const xh = new Float64Array(n);
    const g = new Float64Array(n);
    let mG = 0;
    let mGX = 0;
    for (let j = 0; j < n; j++) {
      xh[j] = (x[t * n + j] - mean[t]) * rstd[t];
      g[j] = dout[t * n + j] * gamma[j];
      dgamma[j] += dout[t * n + j] * xh[j];
      dbeta[j] += dout[t * n + j];
      mG += g[j] / n;
      mGX += (g[j] * xh[j]) / n;
    }
    for (let j = 0; j < n; j++) dx[t * n + j] += rstd[t] * (g[j] - mG - xh[j] * mGX);
  }
}

export function embedFwd(
  E: Float32Array, P: Float32Array, items: Int32Array, pos: Int32Array, x: Float32Array,
  T: number, d: number, scale: number,
): void {
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) x[t * d + j] = E[items[t] * d + j] * scale + P[pos[t] * d + j];
}

export function embedBwd(
  dE: Float32Array, dP: Float32Array, items: Int32Array, pos: Int32Array, dx: Float32Array,
  T: number, d: number, scale: number,
): void {
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < d; j++) {
      dE[items[t] * d + j] += dx[t * d + j] * scale;
      dP[pos[t] * d + j] += dx[t * d + j];
    }
  }
}

export function softmaxXent(logits: Float32Array, targets: Int32Array, R: number, N: number, gradScale: number): number {
  let total = 0;
  for (let r = 0; r < R; r++) {
    const row = logits.subarray(r * N, (r + 1) * N);
    if (targets[r] < 0) {
      row.fill(0);
      continue;
    }
    let mx = -Infinity;
    for (let j = 0; j < N; j++) mx = Math.max(mx, row[j]);
    let s = 0;
    for (let j = 0; j < N; j++) s += Math.exp(row[j] - mx);
    total += -(row[targets[r]] - mx - Math.log(s));
    for (let j = 0; j < N; j++) row[j] = (Math.exp(row[j] - mx) / s) * gradScale;
    row[targets[r]] -= gradScale;
  }
  return total;
}

/** Causal attention over packed sequences; see attentionFwd in asm/kernels.as.ts for the layout. */
export function attentionFwd(
  q: Float32Array, k: Float32Array, v: Float32Array, ldqkv: number, out: Float32Array, ldo: number,
  probs: Float32Array, seg: Int32Array, B: number, H: number, dh: number, scale: number,
): void {
  let pOff = 0;
  for (let b = 0; b < B; b++) {
    const s0 = seg[b];
    const n = seg[b + 1] - s0;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < n; i++) {
        const row = new Float64Array(i + 1);
        let mx = -Infinity;
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let c = 0; c < dh; c++) s += q[(s0 + i) * ldqkv + h * dh + c] * k[(s0 + j) * ldqkv + h * dh + c];
          row[j] = s * scale;
          mx = Math.max(mx, row[j]);
        }
        let z = 0;
        for (let j = 0; j <= i; j++) z += Math.exp(row[j] - mx);
        for (let j = 0; j < n; j++) probs[pOff + i * n + j] = j <= i ? Math.exp(row[j] - mx) / z : 0;
        for (let c = 0; c < dh; c++) {
          let s = 0;
          for (let j = 0; j <= i; j++) s += probs[pOff + i * n + j] * v[(s0 + j) * ldqkv + h * dh + c];
          out[(s0 + i) * ldo + h * dh + c] = s;
        }
      }
      pOff += n * n;
    }
  }
}

export function attentionBwd(
  q: Float32Array, k: Float32Array, v: Float32Array, ldqkv: number, dout: Float32Array, ldo: number,
  probs: Float32Array, seg: Int32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array,
  B: number, H: number, dh: number, scale: number,
): void {
  let pOff = 0;
  for (let b = 0; b < B; b++) {
    const s0 = seg[b];
    const n = seg[b + 1] - s0;
    for (let h = 0; h < H; h++) {
      const c0 = h * dh;
      for (let i = 0; i < n; i++) for (let c = 0; c < dh; c++) {
        dq[(s0 + i) * ldqkv + c0 + c] = 0;
        dk[(s0 + i) * ldqkv + c0 + c] = 0;
        dv[(s0 + i) * ldqkv + c0 + c] = 0;
      }
      for (let i = 0; i < n; i++) {
        const dP = new Float64Array(n);
        let dot = 0;
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let c = 0; c < dh; c++) s += dout[(s0 + i) * ldo + c0 + c] * v[(s0 + j) * ldqkv + c0 + c];
          dP[j] = s;
          dot += s * probs[pOff + i * n + j];
        }
        for (let j = 0; j <= i; j++) {
          const p = probs[pOff + i * n + j];
          const dS = p * (dP[j] - dot) * scale;
          for (let c = 0; c < dh; c++) {
            dq[(s0 + i) * ldqkv + c0 + c] += dS * k[(s0 + j) * ldqkv + c0 + c];
            dk[(s0 + j) * ldqkv + c0 + c] += dS * q[(s0 + i) * ldqkv + c0 + c];
            dv[(s0 + j) * ldqkv + c0 + c] += p * dout[(s0 + i) * ldo + c0 + c];
          }
        }
      }
      pOff += n * n;
    }
  }
}

export function sumSquares(x: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

export function adamw(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number,
  lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number, gradScale: number,
): void {
  for (let i = 0; i < n; i++) {
    const gi = g[i] * gradScale;
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= lr * wd * p[i];
    p[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
  }
}
