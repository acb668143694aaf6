// The training tokenizer of a runtime-loaded model: its tokenizer, with BOS/EOS from the model config
// when the tokenizer file does not name them.
import type { Model } from '@meld/runtime';
import type { TrainingTokenizer } from '../data/encode';

export function trainingTokenizerFromModel(model: Model): TrainingTokenizer {
  const tokenizer = model.tokenizer;
  const bosTokenId = tokenizer.bosTokenId ?? model.config.bosTokenId;
  const eosTokenId = tokenizer.eosTokenId ?? model.config.eosTokenIds[0];
  return {
    encode: (text, options) => tokenizer.encode(text, options),
    ...(bosTokenId !== undefined ? { bosTokenId } : {}),
    ...(eosTokenId !== undefined ? { eosTokenId } : {}),
  };
}
