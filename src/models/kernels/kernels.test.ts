// WASM SIMD kernels against their naive TypeScript twins, and the twins' backward passes against finite
// differences, on small random shapes (odd sizes on purpose, to hit every edge block).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../core/rng.js';
import { Kernels } from './index.js';
import * as ref from './reference.js';

const K = new Kernels({ initialBytes: 4 << 20 });
const rng = new Rng(42);

function rand(n: number, scale = 1): Float32Array {
  const a = K.arena.f32(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() * 2 - 1) * scale;
  return a;
}
function copy(a: Float32Array): Float32Array {
  return Float32Array.from(a);
}
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= tol * (1 + Math.abs(expected[i])))) assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('matmul variants match the naive reference on odd shapes', () => {
  for (const [M, N, K_] of [[1, 1, 1], [5, 3, 7], [9, 17, 13], [33, 50, 21], [4, 8, 300], [7, 130, 5]]) {
    const A = rand(M * K_), B = rand(K_ * N), C = rand(M * N);
    const want = copy(C);
    ref.matmul(A, B, want, M, N, K_, K_, 1, N, N, true);
    K.mm(A, B, C, M, N, K_, true);
    close(C, want, 1e-5, `mm ${M}x${N}x${K_}`);
    // Aᵀ·B with A: [K, M]
    const At = rand(K_ * M);
    const C2 = K.arena.f32(M * N);
    const want2 = new Float32Array(M * N);
    ref.matmul(At, B, want2, M, N, K_, 1, M, N, N, false);
    K.mmAt(At, B, C2, M, N, K_);
    close(C2, want2, 1e-5, `mmAt ${M}x${N}x${K_}`);
    // A·Bᵀ with B: [N, K]
    const Bn = rand(N * K_);
    const Bt = new Float32Array(K_ * N);
    ref.transpose(Bn, Bt, N, K_, K_);
    const C3 = K.arena.f32(M * N);
    const want3 = new Float32Array(M * N);
    ref.matmul(A, Bt, want3, M, N, K_, K_, 1, N, N, false);
    K.mmBt(A, Bn, C3, M, N, K_);
    close(C3, want3, 1e-5, `mmBt ${M}x${N}x${K_}`);
  }
});

test('matmul, softmax loss and attention split across a worker thread match the reference', async () => {
  const K2 = new Kernels({ threads: 2, initialBytes: 4 << 20 });
  try {
    const M = 203, N = 77, Kd = 300;
    const A = K2.arena.f32(M * Kd), B = K2.arena.f32(Kd * N), C = K2.arena.f32(M * N);
    for (let i = 0; i < A.length; i++) A[i] = rng.next() - 0.5;
    for (let i = 0; i < B.length; i++) B[i] = rng.next() - 0.5;
    K2.mm(A, B, C, M, N, Kd);
    const want = new Float32Array(M * N);
    ref.matmul(A, B, want, M, N, Kd, Kd, 1, N, N, false);
    close(C, want, 1e-5, 'threaded mm');

    // softmax loss split by rows
    const R = 40, NI = 9000;
    const logits = K2.arena.f32(R * NI), targets = K2.arena.i32(R);
    for (let i = 0; i < logits.length; i++) logits[i] = rng.next() * 6 - 3;
    for (let r = 0; r < R; r++) targets[r] = rng.int(NI);
    const naive = Float32Array.from(logits);
    const lossT = K2.softmaxXent(logits, targets, R, NI, 0.25);
    const lossR = ref.softmaxXent(naive, Int32Array.from(targets), R, NI, 0.25);
    assert.ok(Math.abs(lossT - lossR) < 1e-4 * lossR, `threaded loss ${lossT} vs ${lossR}`);
    close(logits, naive, 1e-5, 'threaded softmax grad');

    // attention split by sequences
    const H = 1, dh = 6, d = 6, ld = 3 * d;
    const lens = [5, 12, 1, 9, 3];
    const seg = K2.arena.i32(lens.length + 1);
    for (let b = 0; b < lens.length; b++) seg[b + 1] = seg[b] + lens[b];
    const T = seg[lens.length];
    const qkv = K2.arena.f32(T * ld);
    for (let i = 0; i < qkv.length; i++) qkv[i] = rng.next() * 2 - 1;
    const out = K2.arena.f32(T * d), probs = K2.arena.f32(lens.reduce((x, n) => x + n * n, 0));
    const scratch = K2.arena.f32(Kernels.attentionScratch(12, dh, K2.threads));
    K2.attentionFwd(qkv, qkv.subarray(d), qkv.subarray(2 * d), ld, out, d, probs, seg, lens.length, H, dh, 0.4, scratch);
    const outR = new Float32Array(T * d), probsR = new Float32Array(probs.length);
    ref.attentionFwd(qkv, qkv.subarray(d), qkv.subarray(2 * d), ld, outR, d, probsR, Int32Array.from(seg), lens.length, H, dh, 0.4);
    close(out, outR, 1e-5, 'threaded attention out');
    const dout = K2.arena.f32(T * d);
    for (let i = 0; i < dout.length; i++) dout[i] = rng.next() - 0.5;
    const dqkv = K2.arena.f32(T * ld), dqkvR = new Float32Array(T * ld);
    K2.attentionBwd(qkv, qkv.subarray(d), qkv.subarray(2 * d), ld, dout, d, probs, seg, dqkv, dqkv.subarray(d), dqkv.subarray(2 * d), lens.length, H, dh, 0.4, scratch);
    ref.attentionBwd(qkv, qkv.subarray(d), qkv.subarray(2 * d), ld, dout, d, probsR, Int32Array.from(seg), dqkvR, dqkvR.subarray(d), dqkvR.subarray(2 * d), lens.length, H, dh, 0.4);
    close(dqkv, dqkvR, 1e-4, 'threaded attention dqkv');
  } finally {
    await K2.dispose();
  }
});

test('element-wise kernels, dropout masks, layer norm and embeddings match the reference', () => {
  const T = 11, n = 13;
  const x = rand(T * n, 3);
  // relu / gelu forward and backward
  const out = K.arena.f32(T * n), want = new Float32Array(T * n);
  K.geluFwd(x, out, T * n);
  ref.geluFwd(x, want, T * n);
  close(out, want, 1e-5, 'gelu');
  const dy = rand(T * n);
  K.geluBwd(x, dy, out, T * n);
  ref.geluBwd(x, dy, want, T * n);
  close(out, want, 1e-4, 'geluBwd');
  K.reluBwd(x, dy, out, T * n);
  ref.reluBwd(x, dy, want, T * n);
  close(out, want, 0, 'reluBwd');
  // dropout: identical masks from the same seed, about p zeros
  const xa = rand(4001), xb = copy(xa);
  const ma = K.arena.f32(4001), mb = new Float32Array(4001);
  K.dropout(xa, ma, 4001, 0.3, 7);
  ref.dropout(xb, mb, 4001, 0.3, 7);
  close(ma, mb, 0, 'dropout mask');
  close(xa, xb, 1e-6, 'dropout x');
  const zeros = ma.filter((v) => v === 0).length / 4001;
  assert.ok(Math.abs(zeros - 0.3) < 0.03, `dropout rate ${zeros}`);
  // layer norm
  const g = rand(n), b = rand(n);
  const y = K.arena.f32(T * n), mean = K.arena.f32(T), rstd = K.arena.f32(T);
  const yr = new Float32Array(T * n), meanr = new Float32Array(T), rstdr = new Float32Array(T);
  K.layerNormFwd(x, y, mean, rstd, g, b, T, n, 1e-6);
  ref.layerNormFwd(x, yr, meanr, rstdr, g, b, T, n, 1e-6);
  close(y, yr, 1e-5, 'layerNormFwd');
  const dx = K.arena.f32(T * n), dg = K.arena.f32(n), db = K.arena.f32(n);
  const dxr = new Float32Array(T * n), dgr = new Float32Array(n), dbr = new Float32Array(n);
  K.layerNormBwd(dy, x, mean, rstd, g, dx, dg, db, T, n);
  ref.layerNormBwd(dy, x, meanr, rstdr, g, dxr, dgr, dbr, T, n);
  close(dx, dxr, 1e-4, 'layerNormBwd dx');
  close(dg, dgr, 1e-4, 'layerNormBwd dgamma');
  close(db, dbr, 1e-5, 'layerNormBwd dbeta');
  // embeddings
  const E = rand(7 * n), P = rand(5 * n);
  const items = K.arena.i32(T), pos = K.arena.i32(T);
  for (let t = 0; t < T; t++) {
    items[t] = rng.int(7);
    pos[t] = rng.int(5);
  }
  const e = K.arena.f32(T * n), er = new Float32Array(T * n);
  K.embedFwd(E, P, items, pos, e, T, n, 1.5);
  ref.embedFwd(E, P, items, pos, er, T, n, 1.5);
  close(e, er, 1e-6, 'embedFwd');
  const dE = K.arena.f32(7 * n), dP = K.arena.f32(5 * n);
  const dEr = new Float32Array(7 * n), dPr = new Float32Array(5 * n);
  K.embedBwd(dE, dP, items, pos, dy, T, n, 1.5);
  ref.embedBwd(dEr, dPr, items, pos, dy, T, n, 1.5);
  close(dE, dEr, 1e-5, 'embedBwd dE');
  close(dP, dPr, 1e-5, 'embedBwd dP');
});

test('SIMD exp is accurate to 1e-6 relative over the softmax range', () => {
  const n = 1001;
  const x = K.arena.f32(n), out = K.arena.f32(n);
  for (let i = 0; i < n; i++) x[i] = -80 + (85 * i) / (n - 1);
  K.k.expArray(x.byteOffset, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const want = Math.exp(x[i]);
    assert.ok(Math.abs(out[i] - want) <= 1e-6 * want + 1e-38, `exp(${x[i]}) = ${out[i]} vs ${want}`);
  }
});

test('softmax cross-entropy matches the reference and its gradient matches finite differences', () => {
  const R = 5, N = 37;
  const logits = rand(R * N, 4);
  const targets = K.arena.i32(R);
  for (let r = 0; r < R; r++) targets[r] = rng.int(N);
  targets[2] = -1;
  const fast = copy(logits), naive = copy(logits);
  const fastBuf = K.arena.f32(R * N);
  fastBuf.set(fast);
  const lf = K.softmaxXent(fastBuf, targets, R, N, 0.5);
  const ln = ref.softmaxXent(naive, Int32Array.from(targets), R, N, 0.5);
  assert.ok(Math.abs(lf - ln) < 1e-4 * Math.abs(ln), `loss ${lf} vs ${ln}`);
  close(fastBuf, naive, 1e-5, 'softmaxXent grad');
  // finite differences of 0.5·loss on the reference
  const h = 1e-2;
  for (const idx of [0, 5, 41, 3 * N + 7, 4 * N + 36]) {
    const plus = copy(logits), minus = copy(logits);
    plus[idx] += h;
    minus[idx] -= h;
    const fd = (0.5 * (ref.softmaxXent(plus, Int32Array.from(targets), R, N, 1) - ref.softmaxXent(minus, Int32Array.from(targets), R, N, 1))) / (2 * h);
    assert.ok(Math.abs(fd - naive[idx]) < 2e-3, `d/dlogit[${idx}]: fd ${fd} vs ${naive[idx]}`);
  }
});

test('causal attention forward/backward match the reference; backward matches finite differences', () => {
  const H = 2, dh = 5, d = H * dh, ld = 3 * d;
  const seg = K.arena.i32(4);
  seg.set([0, 6, 7, 16]);
  const B = 3, T = 16;
  const qkv = rand(T * ld, 1.5);
  const q = qkv, k = qkv.subarray(d), v = qkv.subarray(2 * d);
  const out = K.arena.f32(T * d), probs = K.arena.f32(H * (36 + 1 + 81));
  const scratch = K.arena.f32(Kernels.attentionScratch(9, dh));
  const scale = 1 / Math.sqrt(dh);
  K.attentionFwd(q, k, v, ld, out, d, probs, seg, B, H, dh, scale, scratch);
  const outR = new Float32Array(T * d), probsR = new Float32Array(probs.length);
  const qkvR = copy(qkv);
  ref.attentionFwd(qkvR, qkvR.subarray(d), qkvR.subarray(2 * d), ld, outR, d, probsR, Int32Array.from(seg), B, H, dh, scale);
  close(out, outR, 1e-5, 'attention out');
  close(probs, probsR, 1e-5, 'attention probs');

  const dout = rand(T * d);
  const dqkv = K.arena.f32(T * ld);
  K.attentionBwd(q, k, v, ld, dout, d, probs, seg, dqkv, dqkv.subarray(d), dqkv.subarray(2 * d), B, H, dh, scale, scratch);
  const dqkvR = new Float32Array(T * ld);
  ref.attentionBwd(qkvR, qkvR.subarray(d), qkvR.subarray(2 * d), ld, dout, d, probsR, Int32Array.from(seg),
    dqkvR, dqkvR.subarray(d), dqkvR.subarray(2 * d), B, H, dh, scale);
  close(dqkv, dqkvR, 1e-4, 'attention dqkv');

  // L = Σ out ⊙ dout; check dL/dqkv by central differences through the reference forward.
  const lossAt = (x: Float32Array): number => {
    const o = new Float32Array(T * d), p = new Float32Array(probs.length);
    ref.attentionFwd(x, x.subarray(d), x.subarray(2 * d), ld, o, d, p, Int32Array.from(seg), B, H, dh, scale);
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * dout[i];
    return s;
  };
  const h = 1e-2;
  for (const idx of [0, 3, d + 2, 2 * d + 4, 7 * ld + 1, 7 * ld + d + 9, 15 * ld + 2 * d, 10 * ld + 12]) {
    const plus = copy(qkv), minus = copy(qkv);
    plus[idx] += h;
    minus[idx] -= h;
    const fd = (lossAt(plus) - lossAt(minus)) / (2 * h);
    assert.ok(Math.abs(fd - dqkvR[idx]) < 5e-3 * (1 + Math.abs(fd)), `dqkv[${idx}]: fd ${fd} vs ${dqkvR[idx]}`);
  }
});

test('layer norm and GELU backward match finite differences', () => {
  const T = 3, n = 6;
  const x = Float32Array.from({ length: T * n }, () => rng.next() * 4 - 2);
  const g = Float32Array.from({ length: n }, () => rng.next() + 0.5);
  const b = Float32Array.from({ length: n }, () => rng.next());
  const w = Float32Array.from({ length: T * n }, () => rng.next() - 0.5);
  const loss = (xx: Float32Array): number => {
    const y = new Float32Array(T * n);
    ref.layerNormFwd(xx, y, new Float32Array(T), new Float32Array(T), g, b, T, n, 1e-6);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * w[i];
    return s;
  };
  const mean = new Float32Array(T), rstd = new Float32Array(T);
  ref.layerNormFwd(x, new Float32Array(T * n), mean, rstd, g, b, T, n, 1e-6);
  const dx = new Float32Array(T * n);
  ref.layerNormBwd(w, x, mean, rstd, g, dx, new Float32Array(n), new Float32Array(n), T, n);
  const h = 1e-2;
  for (let i = 0; i < T * n; i += 2) {
    const p = copy(x), m = copy(x);
    p[i] += h;
    m[i] -= h;
    const fd = (loss(p) - loss(m)) / (2 * h);
    assert.ok(Math.abs(fd - dx[i]) < 5e-3 * (1 + Math.abs(fd)), `ln dx[${i}]: fd ${fd} vs ${dx[i]}`);
  }
  for (const v of [-3, -0.7, 0, 0.4, 2.5]) {
    const dxg = new Float32Array(1);
    ref.geluBwd(Float32Array.of(v), Float32Array.of(1), dxg, 1);
    const fd = (ref.gelu(v + 1e-4) - ref.gelu(v - 1e-4)) / 2e-4;
    assert.ok(Math.abs(fd - dxg[0]) < 1e-3, `gelu'(${v}): fd ${fd} vs ${dxg[0]}`);
  }
});

test('AdamW step and sum of squares match the reference', () => {
  const n = 23;
  const p = rand(n), g = rand(n), m = rand(n, 0.1), v = K.arena.f32(n);
  for (let i = 0; i < n; i++) v[i] = rng.next() * 0.01;
  const pr = copy(p), mr = copy(m), vr = copy(v);
  K.adamw(p, g, m, v, n, 1e-2, 0.9, 0.98, 1e-8, 0.1, 1 - 0.9 ** 3, 1 - 0.98 ** 3, 0.7);
  ref.adamw(pr, g, mr, vr, n, 1e-2, 0.9, 0.98, 1e-8, 0.1, 1 - 0.9 ** 3, 1 - 0.98 ** 3, 0.7);
  close(p, pr, 1e-5, 'adamw p');
  close(m, mr, 1e-6, 'adamw m');
  close(v, vr, 1e-6, 'adamw v');
  assert.ok(Math.abs(K.sumSquares(g, n) - ref.sumSquares(g, n)) < 1e-5);
});
