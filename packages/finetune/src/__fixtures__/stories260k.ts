// TEST-ONLY helpers: read stories260K.bin (llama2.c format) into canonical HF names/layout and
// decode tok512.bin pieces, independently of @meld/runtime, so the training forward can be checked
// against llama2.c's reference text. Library code gets its weights from @meld/runtime.
import { readFileSync } from 'node:fs';
import { sharedFile } from '@meld/test-utils';
import type { BaseWeights, WeightTensor } from '../model/llama-config';

export const stories260kFiles = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

export function loadStories260k(): BaseWeights {
  const bytes = readFileSync(sharedFile('models/stories260K/stories260K.bin'));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [dim, hidden, layers, heads, kvHeads, rawVocab, seqLen] = Array.from({ length: 7 }, (_, i) =>
    view.getInt32(i * 4, true),
  );
  const vocab = Math.abs(rawVocab);
  const hd = dim / heads;
  const floats = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset + 28, bytes.byteOffset + bytes.byteLength),
  );
  let offset = 0;
  const take = (n: number) => {
    const out = floats.slice(offset, offset + n);
    offset += n;
    return out;
  };
  // interleaved (2j, 2j+1) pairs → rotate_half (j, j+hd/2) pairs, per head.
  const permute = (w: Float32Array, nHeads: number): Float32Array => {
    const out = new Float32Array(w.length);
    for (let h = 0; h < nHeads; h++) {
      for (let j = 0; j < hd; j++) {
        const from = j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1;
        out.set(w.subarray((h * hd + from) * dim, (h * hd + from + 1) * dim), (h * hd + j) * dim);
      }
    }
    return out;
  };
  const tensors = new Map<string, WeightTensor>();
  const put = (name: string, shape: number[], data: Float32Array) => tensors.set(name, { shape, data });
  put('model.embed_tokens.weight', [vocab, dim], take(vocab * dim));
  const perLayer = (n: number) => Array.from({ length: layers }, () => take(n));
  const rmsAtt = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kvHeads * hd * dim);
  const wv = perLayer(kvHeads * hd * dim);
  const wo = perLayer(dim * dim);
  const rmsFfn = perLayer(dim);
  const w1 = perLayer(hidden * dim);
  const w2 = perLayer(dim * hidden);
  const w3 = perLayer(hidden * dim);
  put('model.norm.weight', [dim], take(dim));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, [dim], rmsAtt[l]);
    put(`${p}.self_attn.q_proj.weight`, [dim, dim], permute(wq[l], heads));
    put(`${p}.self_attn.k_proj.weight`, [kvHeads * hd, dim], permute(wk[l], kvHeads));
    put(`${p}.self_attn.v_proj.weight`, [kvHeads * hd, dim], wv[l]);
    put(`${p}.self_attn.o_proj.weight`, [dim, dim], wo[l]);
    put(`${p}.post_attention_layernorm.weight`, [dim], rmsFfn[l]);
    put(`${p}.mlp.gate_proj.weight`, [hidden, dim], w1[l]);
    put(`${p}.mlp.down_proj.weight`, [dim, hidden], w2[l]);
    put(`${p}.mlp.up_proj.weight`, [hidden, dim], w3[l]);
  }
  if (rawVocab < 0) {
    offset += seqLen * hd; // freq_cis_real + freq_cis_imag (legacy, unused)
    put('lm_head.weight', [vocab, dim], take(vocab * dim));
  }
  return {
    config: {
      vocabSize: vocab,
      hiddenSize: dim,
      intermediateSize: hidden,
      numLayers: layers,
      numHeads: heads,
      numKeyValueHeads: kvHeads,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      maxPositionEmbeddings: seqLen,
      tieWordEmbeddings: rawVocab > 0,
    },
    tensors,
  };
}

/** tok512.bin pieces, for decoding only (llama2.c's decode rule: strip the space after BOS). */
export function readPieces(): string[] {
  const bytes = readFileSync(sharedFile('models/stories260K/tok512.bin'));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: string[] = [];
  let offset = 4;
  while (offset < bytes.byteLength) {
    offset += 4; // score
    const length = view.getInt32(offset, true);
    offset += 4;
    pieces.push(Buffer.from(bytes.subarray(offset, offset + length)).toString('utf8'));
    offset += length;
  }
  return pieces;
}

export function decodePieces(pieces: string[], tokens: number[]): string {
  let text = '';
  let previous = 1;
  for (const token of tokens) {
    let piece = pieces[token];
    if (previous === 1 && piece.startsWith(' ')) piece = piece.slice(1);
    const byte = /^<0x([0-9A-F]{2})>$/.exec(piece);
    text += byte ? String.fromCharCode(Number.parseInt(byte[1], 16)) : piece;
    previous = token;
  }
  return text;
}
