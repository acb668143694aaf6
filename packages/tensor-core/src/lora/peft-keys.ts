// PEFT adapter tensor names <-> canonical module names. PEFT saves
// `base_model.model.<module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r]; embeddings use
// `lora_embedding_A` [r, vocab] / `lora_embedding_B` [dim, r] without `.weight`. The module is the
// Hugging Face name (`model.layers.0.self_attn.q_proj`), whose weight is `<module>.weight`.

export const peftKeyPrefix = 'base_model.model.';

export type LoraPart = 'A' | 'B';
export type LoraKind = 'linear' | 'embedding';

export interface ParsedPeftKey {
  readonly module: string;
  readonly part: LoraPart;
  readonly kind: LoraKind;
}

// An adapter name segment (`lora_A.default.weight`) appears in memory, not in saved files; accept it.
const keyPattern =
  /^(.*)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.[A-Za-z0-9_-]+)?(?:\.weight)?$/;

/** Parses an adapter tensor name; undefined for tensors that are not LoRA factors. */
export function parsePeftKey(key: string): ParsedPeftKey | undefined {
  const match = keyPattern.exec(key);
  if (!match) return undefined;
  const [, path, factor] = match;
  if (factor === 'lora_A' || factor === 'lora_B') {
    if (!key.endsWith('.weight')) return undefined;
  }
  const module = path!.startsWith(peftKeyPrefix) ? path!.slice(peftKeyPrefix.length) : path!;
  return {
    module,
    part: factor!.endsWith('A') ? 'A' : 'B',
    kind: factor!.startsWith('lora_embedding') ? 'embedding' : 'linear',
  };
}

/** The saved tensor name of one factor of a module's adapter. */
export function peftKey(module: string, part: LoraPart, kind: LoraKind = 'linear'): string {
  return kind === 'embedding'
    ? `${peftKeyPrefix}${module}.lora_embedding_${part}`
    : `${peftKeyPrefix}${module}.lora_${part}.weight`;
}

/** `base_model.model.X` -> `X` for non-LoRA tensors (modules_to_save, biases). */
export function stripPeftPrefix(key: string): string {
  return key.startsWith(peftKeyPrefix) ? key.slice(peftKeyPrefix.length) : key;
}
