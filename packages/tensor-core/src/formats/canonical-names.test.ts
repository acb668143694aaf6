import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { quantizeQ8_0 } from '../quant/q8-0';
import { Tensor } from '../tensor';
import {
  canonicalToGgufName,
  ggufCanonicalTensors,
  ggufToCanonicalName,
  permuteQK,
  readGgufCanonicalTensor,
  unpermuteQK,
} from './canonical-names';
import { openGguf } from './gguf-reader';
import { readLlama2c } from './llama2c';

const pairs: [string, string][] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
  ['blk.0.attn_q.weight', 'model.layers.0.self_attn.q_proj.weight'],
  ['blk.11.attn_k.weight', 'model.layers.11.self_attn.k_proj.weight'],
  ['blk.2.attn_v.weight', 'model.layers.2.self_attn.v_proj.weight'],
  ['blk.2.attn_output.weight', 'model.layers.2.self_attn.o_proj.weight'],
  ['blk.3.ffn_gate.weight', 'model.layers.3.mlp.gate_proj.weight'],
  ['blk.3.ffn_up.weight', 'model.layers.3.mlp.up_proj.weight'],
  ['blk.3.ffn_down.weight', 'model.layers.3.mlp.down_proj.weight'],
  ['blk.4.attn_norm.weight', 'model.layers.4.input_layernorm.weight'],
  ['blk.4.ffn_norm.weight', 'model.layers.4.post_attention_layernorm.weight'],
  ['blk.5.attn_q.bias', 'model.layers.5.self_attn.q_proj.bias'],
];

/** numpy's w.reshape(n_head, 2, dim/n_head/2, cols).swapaxes(1, 2).reshape(w.shape), row by row. */
function numpyPermute(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const half = rows / heads / 2;
  const out: number[] = [];
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let s = 0; s < 2; s++) {
        const row = h * 2 * half + s * half + i;
        out.push(...values.subarray(row * cols, (row + 1) * cols));
      }
  return Float32Array.from(out);
}

describe('canonical names', () => {
  it.each(pairs)('%s <-> %s', (gguf, hf) => {
    expect(ggufToCanonicalName(gguf)).toBe(hf);
    expect(canonicalToGgufName(hf)).toBe(gguf);
  });

  it('leaves unknown names unmapped', () => {
    expect(ggufToCanonicalName('rope_freqs.weight')).toBeUndefined();
    expect(ggufToCanonicalName('blk.0.attn_qkv.weight')).toBeUndefined();
    expect(canonicalToGgufName('model.layers.0.mlp.experts.weight')).toBeUndefined();
  });

  it("permuteQK is convert_hf_to_gguf.py's permute and unpermuteQK inverts it exactly, for any dtype", () => {
    for (const [rows, heads] of [
      [64, 8],
      [32, 4],
      [48, 2],
    ] as const) {
      const values = Float32Array.from({ length: rows * 5 }, (_, i) => Math.sin(i * 1.7));
      const tensor = Tensor.fromF32(values, [rows, 5]);
      const permuted = permuteQK(tensor, heads);
      expect(permuted.toFloat32()).toEqual(numpyPermute(values, rows, 5, heads));
      expect(unpermuteQK(permuted, heads).toFloat32()).toEqual(values);
    }
    const q8 = Tensor.fromBytes(
      'q8_0',
      [16, 64],
      quantizeQ8_0(Float32Array.from({ length: 1024 }, (_, i) => Math.cos(i))),
    );
    const roundTrip = unpermuteQK(permuteQK(q8, 4), 4);
    expect(roundTrip.dtype).toBe('q8_0');
    expect(Buffer.from(roundTrip.bytes()).equals(q8.bytes())).toBe(true);
    expect(permuteQK(q8, 4).toFloat32()).toEqual(numpyPermute(q8.toFloat32(), 16, 64, 4));
  });
});

describeWithShared(
  'stories260K: GGUF q/k against the llama2.c checkpoint',
  ['models/stories260K/stories260K.gguf', 'models/stories260K/stories260K.bin'],
  () => {
    it('raw attn_q/attn_k equal the .bin wq/wk (both interleaved RoPE); canonical q/k equal the HF layout', () => {
      const file = openGguf(sharedFile('models/stories260K/stories260K.gguf'));
      const raw = readFileSync(sharedFile('models/stories260K/stories260K.bin'));
      // llama2.c v0: 7 x int32 header, then token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kvDim, dim].
      const [dim, , layers, heads, kvHeads, vocab] = Array.from(
        new Int32Array(raw.buffer, raw.byteOffset, 7),
      );
      const weights = new Float32Array(raw.buffer.slice(raw.byteOffset + 28));
      const kvDim = (dim! / heads!) * kvHeads!;
      const wqStart = vocab! * dim! + layers! * dim!;
      const wkStart = wqStart + layers! * dim! * dim!;
      const checkpoint = readLlama2c(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
      for (let layer = 0; layer < layers!; layer++) {
        const wq = weights.subarray(wqStart + layer * dim! * dim!, wqStart + (layer + 1) * dim! * dim!);
        const wk = weights.subarray(wkStart + layer * kvDim * dim!, wkStart + (layer + 1) * kvDim * dim!);
        expect(file.readTensor(`blk.${layer}.attn_q.weight`).toFloat32()).toEqual(wq);
        expect(file.readTensor(`blk.${layer}.attn_k.weight`).toFloat32()).toEqual(wk);
        const q = readGgufCanonicalTensor(file, `model.layers.${layer}.self_attn.q_proj.weight`);
        const k = readGgufCanonicalTensor(file, `model.layers.${layer}.self_attn.k_proj.weight`);
        // Permuting back (HF -> GGUF) gives the stored rows; and the llama2.c reader's HF layout agrees.
        expect(permuteQK(q, heads!).toFloat32()).toEqual(wq);
        expect(permuteQK(k, kvHeads!).toFloat32()).toEqual(wk);
        expect(q.toFloat32()).toEqual(
          checkpoint.tensors.get(`model.layers.${layer}.self_attn.q_proj.weight`)!.toFloat32(),
        );
        expect(k.toFloat32()).toEqual(
          checkpoint.tensors.get(`model.layers.${layer}.self_attn.k_proj.weight`)!.toFloat32(),
        );
        expect(q.toFloat32()).not.toEqual(wq);
      }
      const names = ggufCanonicalTensors(file).map((t) => t.name);
      expect(names).toContain('lm_head.weight');
      expect(names.every((n) => n === 'lm_head.weight' || n.startsWith('model.'))).toBe(true);
      expect(new Set(names)).toEqual(new Set(checkpoint.tensors.keys()));
      file.close();
    });
  },
);
