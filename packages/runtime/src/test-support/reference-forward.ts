// A float64 Llama forward pass written separately from the engine, for tests only: it reads the
// llama2.c file itself and follows run.c's arithmetic (interleaved RoPE pairs, full attention over
// all previous positions) with plain nested loops. Nothing here is shared with src/engine.
import { readFileSync } from 'node:fs';

export interface ReferenceWeights {
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
  embed: Float64Array;
  attentionNorm: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  ffnNorm: Float64Array;
  w1: Float64Array;
  w2: Float64Array;
  w3: Float64Array;
  finalNorm: Float64Array;
  classifier: Float64Array;
}

export function readReferenceWeights(path: string): ReferenceWeights {
  const file = readFileSync(path);
  const ints = new Int32Array(file.buffer.slice(file.byteOffset, file.byteOffset + 28));
  const [dim, hidden, layers, heads, kvHeads, vocabRaw, seqLen] = Array.from(ints) as number[];
  const vocab = Math.abs(vocabRaw!);
  const floats = new Float32Array(file.buffer.slice(file.byteOffset + 28, file.byteOffset + file.byteLength));
  const kvDim = (kvHeads! * dim!) / heads!;
  let offset = 0;
  const take = (n: number) => {
    const out = Float64Array.from(floats.subarray(offset, offset + n));
    offset += n;
    return out;
  };
  const L = layers!;
  const embed = take(vocab * dim!);
  const attentionNorm = take(L * dim!);
  const wq = take(L * dim! * dim!);
  const wk = take(L * kvDim * dim!);
  const wv = take(L * kvDim * dim!);
  const wo = take(L * dim! * dim!);
  const ffnNorm = take(L * dim!);
  const w1 = take(L * hidden! * dim!);
  const w2 = take(L * dim! * hidden!);
  const w3 = take(L * hidden! * dim!);
  const finalNorm = take(dim!);
  offset += seqLen! * (dim! / heads!);
  const classifier = vocabRaw! > 0 ? embed : take(vocab * dim!);
  return {
    dim: dim!,
    hidden: hidden!,
    layers: L,
    heads: heads!,
    kvHeads: kvHeads!,
    vocab,
    seqLen: seqLen!,
    embed,
    attentionNorm,
    wq,
    wk,
    wv,
    wo,
    ffnNorm,
    w1,
    w2,
    w3,
    finalNorm,
    classifier,
  };
}

function rmsnorm(x: Float64Array, weight: Float64Array, weightOffset: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / x.length + 1e-5);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = weight[weightOffset + i]! * x[i]! * scale;
  return out;
}

function matvec(w: Float64Array, offset: number, x: Float64Array, rows: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < x.length; c++) s += w[offset + r * x.length + c]! * x[c]!;
    out[r] = s;
  }
  return out;
}

/** Logits [tokens.length][vocab] for a sequence starting at position 0, token by token, in float64. */
export function referenceLogits(w: ReferenceWeights, tokens: readonly number[]): Float64Array[] {
  const { dim, hidden, layers, heads, kvHeads } = w;
  const headSize = dim / heads;
  const kvDim = kvHeads * headSize;
  const keyCache: Float64Array[][] = Array.from({ length: layers }, () => []);
  const valueCache: Float64Array[][] = Array.from({ length: layers }, () => []);
  const result: Float64Array[] = [];
  tokens.forEach((token, pos) => {
    let x = w.embed.slice(token * dim, (token + 1) * dim);
    for (let l = 0; l < layers; l++) {
      const xb = rmsnorm(x, w.attentionNorm, l * dim);
      const q = matvec(w.wq, l * dim * dim, xb, dim);
      const k = matvec(w.wk, l * kvDim * dim, xb, kvDim);
      const v = matvec(w.wv, l * kvDim * dim, xb, kvDim);
      for (let i = 0; i < dim; i += 2) {
        const frequency = 1 / 10000 ** ((i % headSize) / headSize);
        const angle = pos * frequency;
        const rotate = (vec: Float64Array) => {
          const a = vec[i]!;
          const b = vec[i + 1]!;
          vec[i] = a * Math.cos(angle) - b * Math.sin(angle);
          vec[i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
        };
        rotate(q);
        if (i < kvDim) rotate(k);
      }
      keyCache[l]!.push(k);
      valueCache[l]!.push(v);
      const attended = new Float64Array(dim);
      for (let h = 0; h < heads; h++) {
        const kvHead = Math.floor(h / (heads / kvHeads));
        const scores = new Float64Array(pos + 1);
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let d = 0; d < headSize; d++)
            s += q[h * headSize + d]! * keyCache[l]![t]![kvHead * headSize + d]!;
          scores[t] = s / Math.sqrt(headSize);
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let t = 0; t <= pos; t++) {
          scores[t] = Math.exp(scores[t]! - max);
          sum += scores[t]!;
        }
        for (let t = 0; t <= pos; t++) {
          for (let d = 0; d < headSize; d++) {
            attended[h * headSize + d]! += (scores[t]! / sum) * valueCache[l]![t]![kvHead * headSize + d]!;
          }
        }
      }
      const projected = matvec(w.wo, l * dim * dim, attended, dim);
      x = x.map((value, i) => value + projected[i]!);
      const xb2 = rmsnorm(x, w.ffnNorm, l * dim);
      const gate = matvec(w.w1, l * hidden * dim, xb2, hidden);
      const up = matvec(w.w3, l * hidden * dim, xb2, hidden);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = matvec(w.w2, l * dim * hidden, act, dim);
      x = x.map((value, i) => value + down[i]!);
    }
    const final = rmsnorm(x, w.finalNorm, 0);
    result.push(matvec(w.classifier, 0, final, w.vocab));
  });
  return result;
}
