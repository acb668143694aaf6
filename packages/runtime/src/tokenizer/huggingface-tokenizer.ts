// tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { StreamingDecoder, Tokenizer } from './tokenizer';

export interface HuggingFaceTokenizerOptions {
  /** Parsed tokenizer.json. */
  readonly tokenizerJson: Record<string, unknown>;
  /** Parsed tokenizer_config.json ({} when absent). */
  readonly tokenizerConfig?: Record<string, unknown>;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'content' in value && typeof value.content === 'string')
    return value.content;
  return undefined;
}

export class HuggingFaceTokenizer implements Tokenizer {
  readonly kind = 'huggingface' as const;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly addBosByDefault: boolean;
  /** Text of the BOS / EOS tokens (for chat templates). */
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly chatTemplate?: string;
  /** The files it was built from (converters copy them). */
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  private readonly inner: HfTokenizer;

  constructor(options: HuggingFaceTokenizerOptions) {
    const config = options.tokenizerConfig ?? {};
    this.tokenizerJson = options.tokenizerJson;
    this.tokenizerConfig = config;
    this.inner = new HfTokenizer(options.tokenizerJson, config);
    const model = options.tokenizerJson.model as { vocab?: Record<string, number> | unknown[] } | undefined;
    const added = (options.tokenizerJson.added_tokens as { id: number }[] | undefined) ?? [];
    const vocab = model?.vocab;
    const baseSize = Array.isArray(vocab)
      ? vocab.length
      : vocab
        ? Math.max(-1, ...Object.values(vocab)) + 1
        : 0;
    this.vocabSize = Math.max(baseSize, ...added.map((t) => t.id + 1));
    const bosToken = tokenText(config.bos_token);
    const eosToken = tokenText(config.eos_token);
    if (bosToken !== undefined) this.bosToken = bosToken;
    if (eosToken !== undefined) this.eosToken = eosToken;
    const bos = options.bosTokenId ?? (bosToken !== undefined ? this.inner.token_to_id(bosToken) : undefined);
    const eos = options.eosTokenId ?? (eosToken !== undefined ? this.inner.token_to_id(eosToken) : undefined);
    if (bos !== undefined) this.bosTokenId = bos;
    if (eos !== undefined) this.eosTokenId = eos;
    if (typeof config.chat_template === 'string') this.chatTemplate = config.chat_template;
    if (typeof config.add_bos_token === 'boolean')
      this.addBosByDefault = config.add_bos_token && bos !== undefined;
    else {
      const withSpecial = this.inner.encode('a', { add_special_tokens: true }).ids;
      this.addBosByDefault = bos !== undefined && withSpecial[0] === bos;
    }
  }

  encode(text: string, options: { addBos?: boolean } = {}): number[] {
    const ids = text.length > 0 ? this.inner.encode(text, { add_special_tokens: false }).ids : [];
    return (options.addBos ?? this.addBosByDefault) && this.bosTokenId !== undefined
      ? [this.bosTokenId, ...ids]
      : ids;
  }

  decode(tokens: readonly number[]): string {
    return this.inner.decode([...tokens], { skip_special_tokens: true });
  }

  /** Incremental decoding by re-decoding a short window (the prefix/read offsets of TGI). */
  createDecoder(previous?: number): StreamingDecoder {
    const tokens: number[] = previous !== undefined ? [previous] : [];
    let prefix = 0;
    let read = tokens.length;
    const decode = (from: number, to?: number) =>
      this.inner.decode(tokens.slice(from, to), { skip_special_tokens: true });
    return {
      push: (token: number) => {
        tokens.push(token);
        const before = decode(prefix, read);
        const after = decode(prefix);
        if (after.length > before.length && !after.endsWith('\uFFFD')) {
          prefix = read;
          read = tokens.length;
          return after.slice(before.length);
        }
        return '';
      },
      flush: () => {
        const before = decode(prefix, read);
        const after = decode(prefix);
        prefix = read = tokens.length;
        return after.length > before.length ? after.slice(before.length) : '';
      },
    };
  }

  piece(token: number): string {
    return this.inner.id_to_token(token) ?? '';
  }
}
