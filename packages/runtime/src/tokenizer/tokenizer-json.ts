// Writes a SentencePiece BPE vocabulary (scores + byte fallback) as a Hugging Face tokenizer.json
// in the Llama layout (Prepend/Replace normalizer, BPE with byte_fallback, merges ranked by the
// merged piece's score), plus the matching tokenizer_config.json.

export interface SentencePieceExport {
  readonly pieces: readonly string[];
  readonly scores: ArrayLike<number>;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly unkTokenId?: number;
  /** Ids that are control tokens (written as special added tokens). */
  readonly controlTokens: ReadonlySet<number>;
  readonly addBos: boolean;
  readonly addDummyPrefix: boolean;
}

const space = '\u2581';

export function sentencePieceToTokenizerJson(vocabulary: SentencePieceExport): Record<string, unknown> {
  const { pieces, scores } = vocabulary;
  const names = pieces.map((piece, id) => {
    if (id === vocabulary.unkTokenId) return '<unk>';
    if (id === vocabulary.bosTokenId) return '<s>';
    if (id === vocabulary.eosTokenId) return '</s>';
    return piece.replaceAll(' ', space);
  });
  const vocab: Record<string, number> = {};
  names.forEach((name, id) => {
    if (!(name in vocab)) vocab[name] = id;
  });
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  names.forEach((name, id) => {
    if (vocabulary.controlTokens.has(id) || /^<0x[0-9A-Fa-f]{2}>$/.test(name)) return;
    const chars = Array.from(name);
    for (let split = 1; split < chars.length; split++) {
      const left = chars.slice(0, split).join('');
      const right = chars.slice(split).join('');
      if (left in vocab && right in vocab) merges.push({ left, right, score: scores[id]!, id });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || vocab[a.left]! - vocab[b.left]!);
  const special = (id: number | undefined) =>
    id === undefined
      ? []
      : [
          {
            id,
            content: names[id]!,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: true,
          },
        ];
  const bos = vocabulary.bosTokenId !== undefined ? names[vocabulary.bosTokenId]! : undefined;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      ...special(vocabulary.unkTokenId),
      ...special(vocabulary.bosTokenId),
      ...special(vocabulary.eosTokenId),
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        ...(vocabulary.addDummyPrefix ? [{ type: 'Prepend', prepend: space }] : []),
        { type: 'Replace', pattern: { String: ' ' }, content: space },
      ],
    },
    pre_tokenizer: null,
    post_processor: bos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [vocabulary.bosTokenId], tokens: [bos] } },
        }
      : null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: space }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(vocabulary.addDummyPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocabulary.unkTokenId !== undefined ? '<unk>' : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => [m.left, m.right]),
    },
  };
}

export function sentencePieceTokenizerConfig(
  vocabulary: SentencePieceExport,
  contextLength: number,
): Record<string, unknown> {
  return {
    add_bos_token: vocabulary.addBos && vocabulary.bosTokenId !== undefined,
    add_eos_token: false,
    bos_token: vocabulary.bosTokenId !== undefined ? '<s>' : null,
    eos_token: vocabulary.eosTokenId !== undefined ? '</s>' : null,
    unk_token: vocabulary.unkTokenId !== undefined ? '<unk>' : null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: contextLength,
    tokenizer_class: 'LlamaTokenizer',
  };
}
