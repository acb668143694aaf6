import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBf16, encodeF16, Tensor, writeSafetensors } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { XorShiftRandom } from '../generation/sampler';
import { type ReferenceHfConfig, referenceHfLogits } from '../test-support/reference-forward-hf';
import { readLlama2cTokenizer } from '../tokenizer/sentencepiece-bpe';
import { sentencePieceTokenizerConfig, sentencePieceToTokenizerJson } from '../tokenizer/tokenizer-json';
import { loadModel } from './load-model';

type Case = {
  name: string;
  dtype: 'f32' | 'f16' | 'bf16';
  tied: boolean;
  config: Record<string, unknown>;
  reference: ReferenceHfConfig;
};

const vocab = 512;
const base = { hidden: 48, intermediate: 80, layers: 2, heads: 6, kvHeads: 2, headDim: 8, vocab, eps: 1e-6 };
const cases: Case[] = [
  {
    name: 'Qwen2: q/k/v biases, GQA 6/2, tied embeddings, bf16, theta 1e6',
    dtype: 'bf16',
    tied: true,
    config: {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      rope_theta: 1e6,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
    },
    reference: { ...base, theta: 1e6, bias: true },
  },
  {
    name: 'Llama 3: llama3 RoPE scaling, explicit head_dim, f16, untied',
    dtype: 'f16',
    tied: false,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      rope_theta: 500000,
      head_dim: 8,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 16,
      },
    },
    reference: {
      ...base,
      theta: 500000,
      bias: false,
      scaling: { kind: 'llama3', factor: 8, low: 1, high: 4, original: 16 },
    },
  },
  {
    name: 'Mistral: linear RoPE scaling, f32',
    dtype: 'f32',
    tied: false,
    config: {
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      rope_theta: 10000,
      rope_scaling: { type: 'linear', factor: 2 },
    },
    reference: { ...base, theta: 10000, bias: false, scaling: { kind: 'linear', factor: 2 } },
  },
];

function randomTensors(c: Case, seed: number): Map<string, Float32Array> {
  const random = new XorShiftRandom(seed);
  const values = (n: number, scale = 0.3) =>
    Float32Array.from({ length: n }, () => (random.next() * 2 - 1) * scale);
  const { hidden, intermediate, layers, heads, kvHeads, headDim } = base;
  const tensors = new Map<string, Float32Array>();
  tensors.set('model.embed_tokens.weight', values(vocab * hidden, 1));
  if (!c.tied) tensors.set('lm_head.weight', values(vocab * hidden));
  tensors.set(
    'model.norm.weight',
    values(hidden, 0.5).map((v) => 1 + v),
  );
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    tensors.set(
      `${p}.input_layernorm.weight`,
      values(hidden, 0.5).map((v) => 1 + v),
    );
    tensors.set(
      `${p}.post_attention_layernorm.weight`,
      values(hidden, 0.5).map((v) => 1 + v),
    );
    tensors.set(`${p}.self_attn.q_proj.weight`, values(heads * headDim * hidden));
    tensors.set(`${p}.self_attn.k_proj.weight`, values(kvHeads * headDim * hidden));
    tensors.set(`${p}.self_attn.v_proj.weight`, values(kvHeads * headDim * hidden));
    tensors.set(`${p}.self_attn.o_proj.weight`, values(hidden * heads * headDim));
    tensors.set(`${p}.mlp.gate_proj.weight`, values(intermediate * hidden));
    tensors.set(`${p}.mlp.up_proj.weight`, values(intermediate * hidden));
    tensors.set(`${p}.mlp.down_proj.weight`, values(hidden * intermediate));
    if (c.reference.bias) {
      tensors.set(`${p}.self_attn.q_proj.bias`, values(heads * headDim));
      tensors.set(`${p}.self_attn.k_proj.bias`, values(kvHeads * headDim));
      tensors.set(`${p}.self_attn.v_proj.bias`, values(kvHeads * headDim));
    }
  }
  return tensors;
}

/** [out, in] of each projection (norms and biases are 1-D). */
function shapeOf(name: string, length: number): number[] {
  if (name.endsWith('.bias') || name.endsWith('norm.weight')) return [length];
  const inFeatures = name.includes('down_proj')
    ? base.intermediate
    : name.includes('o_proj')
      ? base.heads * base.headDim
      : base.hidden;
  return [length / inFeatures, inFeatures];
}

const files = ['models/stories260K/tok512.bin'];

describeWithShared('Hugging Face folders: Llama, Mistral, Qwen2 against a float64 reference', files, () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'meld-runtime-arch-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(cases)('$name', async (c) => {
    const folder = join(root, c.name.split(':')[0]!.replace(/\W/g, ''));
    mkdirSync(folder, { recursive: true });
    const tensors = randomTensors(c, 17);
    const stored = new Map<string, Float64Array>();
    const entries: Record<string, Tensor> = {};
    for (const [name, values] of tensors) {
      const shape = shapeOf(name, values.length);
      const isNorm = name.endsWith('norm.weight');
      const dtype = isNorm ? 'f32' : c.dtype;
      const tensor =
        dtype === 'f32'
          ? Tensor.fromF32(values, shape)
          : Tensor.fromBytes(dtype, shape, dtype === 'f16' ? encodeF16(values) : encodeBf16(values));
      entries[name] = tensor;
      stored.set(name, Float64Array.from(tensor.toFloat32()));
    }
    writeSafetensors(join(folder, 'model.safetensors'), entries);
    const config = {
      hidden_size: base.hidden,
      intermediate_size: base.intermediate,
      num_hidden_layers: base.layers,
      num_attention_heads: base.heads,
      num_key_value_heads: base.kvHeads,
      vocab_size: vocab,
      max_position_embeddings: 64,
      rms_norm_eps: base.eps,
      hidden_act: 'silu',
      bos_token_id: 1,
      eos_token_id: 2,
      ...c.config,
    };
    writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
    const vocabulary = readLlama2cTokenizer(readFileSync(sharedFile(files[0]!)), vocab).exportVocabulary();
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(sentencePieceToTokenizerJson(vocabulary)));
    writeFileSync(
      join(folder, 'tokenizer_config.json'),
      JSON.stringify(sentencePieceTokenizerConfig(vocabulary, 64)),
    );

    const model = await loadModel(folder);
    const tokens = model.encode('Lily and Ben went to the big zoo.');
    expect(tokens.length).toBeGreaterThan(8);
    const expected = referenceHfLogits(c.reference, (name) => stored.get(name)!, tokens, c.tied);
    const logits = model.forward(tokens, { logits: 'all' });
    tokens.forEach((_, i) => {
      const row = expected[i]!;
      const scale = Math.max(...row.map(Math.abs));
      expect(logits.subarray(i * vocab, (i + 1) * vocab)).toBeAllClose(row, {
        rtol: 1e-4,
        atol: 1e-4 * scale,
      });
    });
  });
});
