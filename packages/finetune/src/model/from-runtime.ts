// Base weights for training from a model @meld/runtime loaded (llama2.c, GGUF or HF folder): its
// tensors already carry canonical HF names and layout; quantized or half tensors become f32 masters.
import type { Model } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import type { BaseWeights, LlamaConfig, WeightTensor } from './llama-config';

export function baseWeightsFromModel(model: Model): BaseWeights {
  const c = model.config;
  if (c.attentionBias)
    throw new ValidationError(
      'model.attentionBias',
      'training models with q/k/v biases (Qwen2) is not supported yet',
    );
  if (c.ropeScaling)
    throw new ValidationError('model.ropeScaling', 'training with RoPE scaling is not supported yet');
  const config: LlamaConfig = {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKeyValueHeads: c.numKVHeads,
    headDim: c.headDim,
    rmsNormEps: c.rmsNormEps,
    ropeTheta: c.ropeTheta,
    maxPositionEmbeddings: c.contextLength,
    tieWordEmbeddings: c.tieWordEmbeddings,
  };
  const tensors = new Map<string, WeightTensor>();
  for (const [name, tensor] of model.tensors)
    tensors.set(name, { shape: [...tensor.shape], data: tensor.toFloat32() });
  return { config, tensors };
}
