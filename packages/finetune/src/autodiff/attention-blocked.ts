// The float32 path of causal attention: per (sequence, head), the score and value products run as
// [T, T] matrix products on tensor-core's WebAssembly SIMD matmul; masking and softmax stay scalar.
// Same contract and results as the loop path in attention.ts (checked against it in tests).
import { matmulF32 } from '@meld/tensor-core';
import type { AttentionShape } from './attention';

interface Buffers {
  qh: Float32Array;
  kh: Float32Array;
  vh: Float32Array;
  oh: Float32Array;
  square: Float32Array;
  squareT: Float32Array;
}

function buffers(T: number, hd: number): Buffers {
  return {
    qh: new Float32Array(T * hd),
    kh: new Float32Array(T * hd),
    vh: new Float32Array(T * hd),
    oh: new Float32Array(T * hd),
    square: new Float32Array(T * T),
    squareT: new Float32Array(T * T),
  };
}

function gather(
  target: Float32Array,
  source: Float32Array,
  b: number,
  T: number,
  width: number,
  offset: number,
  hd: number,
) {
  for (let t = 0; t < T; t++) {
    const o = (b * T + t) * width + offset;
    for (let d = 0; d < hd; d++) target[t * hd + d] = source[o + d];
  }
}

function scatterAdd(
  target: Float32Array,
  source: Float32Array,
  b: number,
  T: number,
  width: number,
  offset: number,
  hd: number,
) {
  for (let t = 0; t < T; t++) {
    const o = (b * T + t) * width + offset;
    for (let d = 0; d < hd; d++) target[o + d] += source[t * hd + d];
  }
}

function transpose(target: Float32Array, source: Float32Array, T: number) {
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) target[j * T + i] = source[i * T + j];
}

/** Forward; fills `probs` [B, H, T, T] (zeros outside the mask) and `out`. */
export function attentionForwardBlocked(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  shape: AttentionShape,
): void {
  const { batch, seqLen: T, heads: H, kvHeads: KVH, headDim: hd, documentStarts } = shape;
  const group = H / KVH;
  const qWidth = H * hd;
  const kvWidth = KVH * hd;
  const scale = 1 / Math.sqrt(hd);
  const buf = buffers(T, hd);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      gather(buf.qh, q, b, T, qWidth, h * hd, hd);
      if (h % group === 0) {
        gather(buf.kh, k, b, T, kvWidth, kvh * hd, hd);
        gather(buf.vh, v, b, T, kvWidth, kvh * hd, hd);
      }
      matmulF32(buf.square, buf.qh, buf.kh, T, T, hd, true);
      const p = probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
      for (let i = 0; i < T; i++) {
        const start = documentStarts ? documentStarts[b * T + i] : 0;
        const row = i * T;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = start; j <= i; j++) {
          const s = buf.square[row + j] * scale;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = start; j <= i; j++) {
          const e = Math.exp(buf.square[row + j] * scale - max);
          p[row + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = start; j <= i; j++) p[row + j] *= inv;
      }
      matmulF32(buf.oh, p, buf.vh, T, hd, T, false);
      scatterAdd(out, buf.oh, b, T, qWidth, h * hd, hd);
    }
  }
}

/** Backward: adds into whichever of dq, dk, dv are given. */
export function attentionBackwardBlocked(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dy: Float32Array,
  probs: Float32Array,
  shape: AttentionShape,
  dq: Float32Array | undefined,
  dk: Float32Array | undefined,
  dv: Float32Array | undefined,
): void {
  const { batch, seqLen: T, heads: H, kvHeads: KVH, headDim: hd, documentStarts } = shape;
  const group = H / KVH;
  const qWidth = H * hd;
  const kvWidth = KVH * hd;
  const scale = 1 / Math.sqrt(hd);
  const buf = buffers(T, hd);
  const doh = new Float32Array(T * hd);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      gather(doh, dy, b, T, qWidth, h * hd, hd);
      gather(buf.qh, q, b, T, qWidth, h * hd, hd);
      if (h % group === 0) {
        gather(buf.kh, k, b, T, kvWidth, kvh * hd, hd);
        gather(buf.vh, v, b, T, kvWidth, kvh * hd, hd);
      }
      const p = probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
      if (dv) {
        transpose(buf.squareT, p, T);
        matmulF32(buf.oh, buf.squareT, doh, T, hd, T, false);
        scatterAdd(dv, buf.oh, b, T, kvWidth, kvh * hd, hd);
      }
      if (!dq && !dk) continue;
      // dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale, in place in `square`.
      matmulF32(buf.square, doh, buf.vh, T, T, hd, true);
      for (let i = 0; i < T; i++) {
        const start = documentStarts ? documentStarts[b * T + i] : 0;
        const row = i * T;
        let dot = 0;
        for (let j = start; j <= i; j++) dot += p[row + j] * buf.square[row + j];
        for (let j = 0; j < start; j++) buf.square[row + j] = 0;
        for (let j = start; j <= i; j++)
          buf.square[row + j] = p[row + j] * (buf.square[row + j] - dot) * scale;
        for (let j = i + 1; j < T; j++) buf.square[row + j] = 0;
      }
      if (dq) {
        matmulF32(buf.oh, buf.square, buf.kh, T, hd, T, false);
        scatterAdd(dq, buf.oh, b, T, qWidth, h * hd, hd);
      }
      if (dk) {
        transpose(buf.squareT, buf.square, T);
        matmulF32(buf.oh, buf.squareT, buf.qh, T, hd, T, false);
        scatterAdd(dk, buf.oh, b, T, kvWidth, kvh * hd, hd);
      }
    }
  }
}
