// GGUF round trip through meld's own formats code, checked by llama.cpp (node-llama-cpp):
// read a model (GGUF or llama2.c) into canonical Hugging Face tensors, write it back as GGUF with
// our writer (llama.cpp names and q/k permutation), load that file in llama.cpp and decode greedily.
import {
  canonicalTensorToGguf,
  canonicalToGgufName,
  type GgufTensorEntry,
  type GgufValue,
  type GgufWriteType,
  ggufCanonicalTensors,
  ggufQKPermutation,
  openGguf,
  type QKPermutation,
  readGgufCanonicalTensor,
  readLlama2c,
  type Tensor,
  writeGguf,
} from '@meld/tensor-core';

export interface CanonicalModel {
  /** GGUF metadata (architecture, hyperparameters, tokenizer vocabulary). */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Hugging Face Llama names and layout (q/k un-permuted). */
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly permutation: QKPermutation;
}

/** Every tensor of a GGUF file under its canonical name, in HF layout. */
export function readGgufAsCanonical(path: string): CanonicalModel {
  const file = openGguf(path);
  try {
    const permutation = ggufQKPermutation(file);
    if (!permutation) throw new Error(`${path}: not a llama-architecture GGUF`);
    const tensors = new Map<string, Tensor>();
    for (const { name } of ggufCanonicalTensors(file)) tensors.set(name, readGgufCanonicalTensor(file, name));
    return { metadata: file.metadata, tensors, permutation };
  } finally {
    file.close();
  }
}

/**
 * A llama2.c checkpoint as a canonical model. The checkpoint has no tokenizer or hyperparameter
 * metadata beyond its header: `metadataSource` (a GGUF of the same model) lends the vocabulary.
 */
export function readLlama2cAsCanonical(
  bytes: Uint8Array,
  metadataSource: ReadonlyMap<string, GgufValue>,
): CanonicalModel {
  const checkpoint = readLlama2c(bytes);
  const h = checkpoint.header;
  const metadata = new Map<string, GgufValue>();
  for (const [key, value] of metadataSource) if (key.startsWith('tokenizer.')) metadata.set(key, value);
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  metadata.set('general.architecture', { type: 'string', value: 'llama' });
  metadata.set('general.name', { type: 'string', value: 'stories260K (from llama2.c)' });
  metadata.set('llama.context_length', u32(h.seqLen));
  metadata.set('llama.embedding_length', u32(h.dim));
  metadata.set('llama.feed_forward_length', u32(h.hiddenDim));
  metadata.set('llama.block_count', u32(h.layers));
  metadata.set('llama.attention.head_count', u32(h.heads));
  metadata.set('llama.attention.head_count_kv', u32(h.kvHeads));
  metadata.set('llama.rope.dimension_count', u32(h.dim / h.heads));
  metadata.set('llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 });
  return { metadata, tensors: checkpoint.tensors, permutation: { heads: h.heads, kvHeads: h.kvHeads } };
}

/** Writes a canonical model as a llama.cpp GGUF (2-D weights in `type`, norms f32). */
export function writeCanonicalAsGguf(
  path: string,
  model: CanonicalModel,
  type: GgufWriteType = 'F32',
): number {
  const tensors: GgufTensorEntry[] = [];
  for (const [name, tensor] of model.tensors) {
    const ggufName = canonicalToGgufName(name);
    if (!ggufName) throw new Error(`no GGUF name for ${name}`);
    const matrix =
      tensor.shape.length === 2 && (tensor.shape[1]! % 32 === 0 || type === 'F32' || type === 'F16');
    tensors.push({
      name: ggufName,
      shape: tensor.shape,
      type: matrix ? type : tensor.shape.length === 2 ? 'F16' : 'F32',
      data: () => canonicalTensorToGguf(name, tensor, model.permutation),
    });
  }
  return writeGguf(path, { metadata: model.metadata, tensors });
}

export interface GreedyOptions {
  /** Positions including BOS, like llama2.c run.c's -n. */
  readonly steps: number;
  readonly prompt?: string;
}

/** Greedy text from llama.cpp for a GGUF file, the way run.c prints it (BOS first, stop at BOS). */
export async function llamaCppGreedy(modelPath: string, options: GreedyOptions): Promise<string> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: Math.max(options.steps, 64), threads: 1 });
  try {
    const bos = model.tokens.bos;
    if (bos === null) throw new Error(`${modelPath}: no BOS token`);
    const input = [bos, ...(options.prompt ? model.tokenize(options.prompt) : [])];
    const generated: (typeof input)[number][] = [];
    const sequence = context.getSequence();
    // run.c samples one token per position 0 .. steps-1 (the prompt forced at its positions).
    const budget = options.steps - (input.length - 1);
    for await (const token of sequence.evaluate(input, { temperature: 0 })) {
      if (token === bos) break;
      generated.push(token);
      if (generated.length >= budget) break;
    }
    const prompt = input.length > 1 ? model.detokenize(input.slice(1)) : '';
    const text = `${prompt}${model.detokenize(generated, false, input)}`;
    return `${text.replace(/^ /, '')}\n`;
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}
