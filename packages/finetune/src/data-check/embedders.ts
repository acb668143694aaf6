// Embedding functions for similarity checks: mean-pooled final hidden states of a local model, or
// any OpenAI-compatible /embeddings endpoint (through @meld/llm's client).
import { createOpenAICompatible } from '@meld/llm';
import { ValidationError } from '@meld/tensor-core';
import { Tape } from '../autodiff/tape';
import type { TrainingTokenizer } from '../data/encode';
import { type FrozenModel, trainForward } from '../model/train-forward';

export type EmbeddingFunction = (texts: string[]) => Promise<Float32Array[]>;

/** Mean of the final (normed) hidden states over the text's tokens; texts longer than maxTokens are cut. */
export function localEmbedder(
  model: FrozenModel,
  tokenizer: TrainingTokenizer,
  options: { maxTokens?: number } = {},
): EmbeddingFunction {
  const maxTokens = Math.min(options.maxTokens ?? 256, model.config.maxPositionEmbeddings);
  const dim = model.config.hiddenSize;
  return async (texts) =>
    texts.map((text) => {
      const tokens = tokenizer.encode(text, { addBos: true }).slice(0, maxTokens);
      if (tokens.length === 0) return new Float32Array(dim);
      const hidden = trainForward(
        new Tape(false),
        model,
        { batch: 1, seqLen: tokens.length, inputIds: Int32Array.from(tokens) },
        { output: 'hidden' },
      );
      const mean = new Float32Array(dim);
      for (let t = 0; t < tokens.length; t++)
        for (let d = 0; d < dim; d++) mean[d] += hidden.data[t * dim + d];
      for (let d = 0; d < dim; d++) mean[d] /= tokens.length;
      return mean;
    });
}

/** An OpenAI-compatible embeddings endpoint (POST {baseURL}/embeddings), batched. */
export function endpointEmbedder(options: {
  baseURL: string;
  model: string;
  apiKey?: string;
  batchSize?: number;
}): EmbeddingFunction {
  const provider = createOpenAICompatible({
    baseURL: options.baseURL,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  });
  const model = provider.chat(options.model);
  const batchSize = options.batchSize ?? 64;
  return async (texts) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += batchSize) {
      const vectors = await model.embed?.(texts.slice(i, i + batchSize));
      if (!vectors) throw new ValidationError('embed', 'the endpoint client cannot embed');
      out.push(...vectors);
    }
    return out;
  };
}
