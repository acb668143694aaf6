// llama2.c checkpoints (.bin) with their tokenizer.bin.
import { readFile } from 'node:fs/promises';
import { readLlama2c } from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { Model } from '../model';
import { readLlama2cTokenizer } from '../tokenizer/sentencepiece-bpe';

export async function loadLlama2c(
  path: string,
  tokenizerPath: string,
  options: { contextLength?: number } = {},
): Promise<Model> {
  const checkpoint = readLlama2c(await readFile(path), path);
  const { header } = checkpoint;
  const tokenizer = readLlama2cTokenizer(await readFile(tokenizerPath), header.vocabSize, tokenizerPath);
  const config: ModelConfig = {
    architecture: 'llama',
    hiddenSize: header.dim,
    intermediateSize: header.hiddenDim,
    numLayers: header.layers,
    numHeads: header.heads,
    numKVHeads: header.kvHeads,
    headDim: header.dim / header.heads,
    vocabSize: header.vocabSize,
    contextLength: options.contextLength ?? header.seqLen,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: header.sharedClassifier,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    stopAtBos: true,
  };
  return new Model({ config, tokenizer, format: 'llama2c', tensors: checkpoint.tensors, source: path });
}
