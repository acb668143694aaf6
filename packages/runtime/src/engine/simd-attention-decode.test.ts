// Decoding with a head size divisible by 16 takes the WebAssembly SIMD single-query attention
// (tensor-core's SimdArena.attendSingleQuery) and Transformer.decodeStep (generation): both against the
// float64 Hugging Face reference in test-support, on a random GQA model written as an HF folder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, writeSafetensors } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { XorShiftRandom } from '../generation/sampler';
import { loadModel } from '../load/load-model';
import type { Model } from '../model';
import { type ReferenceHfConfig, referenceHfLogits } from '../test-support/reference-forward-hf';
import { readLlama2cTokenizer } from '../tokenizer/sentencepiece-bpe';
import { sentencePieceTokenizerConfig, sentencePieceToTokenizerJson } from '../tokenizer/tokenizer-json';
import type { AttentionEvent } from './attention-observer';

const vocab = 512;
const reference: ReferenceHfConfig = {
  hidden: 96,
  intermediate: 96,
  layers: 2,
  heads: 6,
  kvHeads: 2,
  headDim: 16,
  vocab,
  eps: 1e-6,
  theta: 10000,
  bias: false,
};
const files = ['models/stories260K/tok512.bin'];

describeWithShared('decoding with 16 | headDim (SIMD attention) against a float64 reference', files, () => {
  let root: string;
  let model: Model;
  const stored = new Map<string, Float64Array>();
  const expectedFor = (tokens: number[]) =>
    referenceHfLogits(reference, (name) => stored.get(name)!, tokens, false);
  const tolerance = (row: Float64Array) => ({ rtol: 1e-4, atol: 1e-4 * Math.max(...row.map(Math.abs)) });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'meld-runtime-simd-decode-'));
    const { hidden, intermediate, layers, heads, kvHeads, headDim } = reference;
    const random = new XorShiftRandom(5);
    const entries: Record<string, Tensor> = {};
    const add = (name: string, shape: number[], scale: number, offset = 0) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from({ length: count }, () => offset + (random.next() * 2 - 1) * scale);
      entries[name] = Tensor.fromF32(values, shape);
      stored.set(name, Float64Array.from(values));
    };
    add('model.embed_tokens.weight', [vocab, hidden], 1);
    add('lm_head.weight', [vocab, hidden], 0.3);
    add('model.norm.weight', [hidden], 0.5, 1);
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      add(`${p}.input_layernorm.weight`, [hidden], 0.5, 1);
      add(`${p}.post_attention_layernorm.weight`, [hidden], 0.5, 1);
      add(`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden], 0.3);
      add(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 0.3);
      add(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 0.3);
      add(`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim], 0.3);
      add(`${p}.mlp.gate_proj.weight`, [intermediate, hidden], 0.3);
      add(`${p}.mlp.up_proj.weight`, [intermediate, hidden], 0.3);
      add(`${p}.mlp.down_proj.weight`, [hidden, intermediate], 0.3);
    }
    writeSafetensors(join(root, 'model.safetensors'), entries);
    const config = {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: hidden,
      intermediate_size: intermediate,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      vocab_size: vocab,
      max_position_embeddings: 64,
      rms_norm_eps: reference.eps,
      rope_theta: reference.theta,
      hidden_act: 'silu',
      bos_token_id: 1,
      eos_token_id: 2,
      tie_word_embeddings: false,
    };
    writeFileSync(join(root, 'config.json'), JSON.stringify(config));
    const vocabulary = readLlama2cTokenizer(readFileSync(sharedFile(files[0]!)), vocab).exportVocabulary();
    writeFileSync(join(root, 'tokenizer.json'), JSON.stringify(sentencePieceToTokenizerJson(vocabulary)));
    writeFileSync(
      join(root, 'tokenizer_config.json'),
      JSON.stringify(sentencePieceTokenizerConfig(vocabulary, 64)),
    );
    model = await loadModel(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('token-by-token decoding over one cache matches float64 logits at every position', () => {
    const tokens = model.encode('Lily and Ben went to the big zoo.');
    expect(tokens.length).toBeGreaterThan(8);
    const expected = expectedFor(tokens);
    const cache = model.createCache();
    tokens.forEach((token, i) => {
      expect(model.forward([token], { cache })).toBeAllClose(expected[i]!, tolerance(expected[i]!));
    });
  });

  it('greedy generation (decodeStep) picks a float64 argmax at every step', async () => {
    const prompt = model.encode('Once upon a time');
    const generated: number[] = [];
    for await (const event of model.generate(prompt, { temperature: 0, maxTokens: 12, ignoreEos: true })) {
      if (event.type === 'token') generated.push(event.token);
    }
    expect(generated).toHaveLength(12);
    const expected = expectedFor([...prompt, ...generated]);
    generated.forEach((token, i) => {
      const row = expected[prompt.length - 1 + i]!;
      const best = Math.max(...row);
      // the chosen token's float64 logit is the maximum, up to the f32 tolerance
      expect(best - row[token]!).toBeLessThanOrEqual(1e-4 * Math.max(...row.map(Math.abs)));
    });
  });

  it('an attention observer on a decoding step sees softmax rows over the whole cache, logits unchanged', () => {
    const tokens = model.encode('Lily and Ben went to the big zoo.');
    const cache = model.createCache();
    model.forward(tokens.slice(0, -1), { cache });
    const plainCache = model.createCache();
    model.forward(tokens.slice(0, -1), { cache: plainCache });
    const events: AttentionEvent[] = [];
    const observed = model.forward(tokens.slice(-1), {
      cache,
      observers: [
        {
          specificationVersion: 'v1',
          onAttention: (event) => events.push({ ...event, weights: event.weights.slice() }),
        },
      ],
    });
    expect(observed).toEqual(model.forward(tokens.slice(-1), { cache: plainCache }));
    expect(events).toHaveLength(reference.layers * reference.heads);
    expect(events.filter((e) => e.layer === 0).map((e) => e.kvHead)).toEqual([0, 0, 0, 1, 1, 1]);
    for (const event of events) {
      expect(event.length).toBe(tokens.length);
      expect(event.weights).toHaveLength(tokens.length);
      expect(event.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    // heads of one group see different weights (each its own query), not one shared row
    expect(events[0]!.weights).not.toEqual(events[1]!.weights);
  });
});
