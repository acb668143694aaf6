// Fused causal self-attention with grouped-query heads (GQA) and optional packed-document masking.
// Probabilities are kept for the backward pass (batch · heads · T · T values).
import { attentionBackwardBlocked, attentionForwardBlocked } from './attention-blocked';
import { allocLike, type Tape, Variable } from './tape';

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /**
   * For packed sequences: for each token (batch·seqLen), the index within its row where its document
   * starts; a token attends only to [start, itself]. Omitted: plain causal attention.
   */
  documentStarts?: Int32Array;
}

/** q: [B·T, H·hd], k and v: [B·T, KVH·hd] → [B·T, H·hd]. */
export function causalAttention(
  tape: Tape,
  q: Variable,
  k: Variable,
  v: Variable,
  shape: AttentionShape,
): Variable {
  const { batch, seqLen: T, heads: H, kvHeads: KVH, headDim: hd, documentStarts } = shape;
  const group = H / KVH;
  const qWidth = H * hd;
  const kvWidth = KVH * hd;
  const scaleFactor = 1 / Math.sqrt(hd);
  const out = allocLike(q.data, q.size);
  const probs = allocLike(q.data, batch * H * T * T);
  const qd = q.data;
  const kd = k.data;
  const vd = v.data;
  const blocked =
    T >= 16 && qd instanceof Float32Array && kd instanceof Float32Array && vd instanceof Float32Array;
  if (blocked) attentionForwardBlocked(qd, kd, vd, out as Float32Array, probs as Float32Array, shape);
  else
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        for (let i = 0; i < T; i++) {
          const row = b * T + i;
          const start = documentStarts ? documentStarts[row] : 0;
          const qo = row * qWidth + h * hd;
          const po = ((b * H + h) * T + i) * T;
          let max = Number.NEGATIVE_INFINITY;
          for (let j = start; j <= i; j++) {
            const ko = (b * T + j) * kvWidth + kvh * hd;
            let s = 0;
            for (let d = 0; d < hd; d++) s += qd[qo + d] * kd[ko + d];
            s *= scaleFactor;
            probs[po + j] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let j = start; j <= i; j++) {
            const e = Math.exp(probs[po + j] - max);
            probs[po + j] = e;
            sum += e;
          }
          const inv = 1 / sum;
          const oo = row * qWidth + h * hd;
          for (let j = start; j <= i; j++) {
            const p = probs[po + j] * inv;
            probs[po + j] = p;
            const vo = (b * T + j) * kvWidth + kvh * hd;
            for (let d = 0; d < hd; d++) out[oo + d] += p * vd[vo + d];
          }
        }
      }
    }
  const y = new Variable(out, q.shape, tape.needs(q, k, v));
  if (y.requiresGrad) {
    tape.record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dq = q.requiresGrad ? q.gradBuffer() : undefined;
      const dk = k.requiresGrad ? k.gradBuffer() : undefined;
      const dv = v.requiresGrad ? v.gradBuffer() : undefined;
      if (blocked) {
        attentionBackwardBlocked(
          qd as Float32Array,
          kd as Float32Array,
          vd as Float32Array,
          dy as Float32Array,
          probs as Float32Array,
          shape,
          dq as Float32Array | undefined,
          dk as Float32Array | undefined,
          dv as Float32Array | undefined,
        );
        return;
      }
      const dp = allocLike(q.data, T);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < H; h++) {
          const kvh = Math.floor(h / group);
          for (let i = 0; i < T; i++) {
            const row = b * T + i;
            const start = documentStarts ? documentStarts[row] : 0;
            const oo = row * qWidth + h * hd;
            const po = ((b * H + h) * T + i) * T;
            let dot = 0;
            for (let j = start; j <= i; j++) {
              const vo = (b * T + j) * kvWidth + kvh * hd;
              const p = probs[po + j];
              let g = 0;
              for (let d = 0; d < hd; d++) g += dy[oo + d] * vd[vo + d];
              dp[j] = g;
              dot += p * g;
              if (dv) for (let d = 0; d < hd; d++) dv[vo + d] += p * dy[oo + d];
            }
            for (let j = start; j <= i; j++) {
              const ds = probs[po + j] * (dp[j] - dot) * scaleFactor;
              if (ds === 0) continue;
              const ko = (b * T + j) * kvWidth + kvh * hd;
              if (dq) for (let d = 0; d < hd; d++) dq[oo + d] += ds * kd[ko + d];
              if (dk) for (let d = 0; d < hd; d++) dk[ko + d] += ds * qd[oo + d];
            }
          }
        }
      }
    });
  }
  return y;
}
