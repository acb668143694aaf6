// SentencePiece BPE with scores and byte fallback, as llama2.c's run.c and llama.cpp's SPM
// tokenizer run it: a dummy-prefix space, one symbol per UTF-8 character (bytes <0xXX> when a
// character is not in the vocabulary), then repeatedly merge the adjacent pair whose merged piece
// has the highest score (the leftmost on ties). Decoding strips the leading space after BOS and
// turns <0xXX> pieces into bytes.
import { FormatError } from '@meld/tensor-core';
import type { StreamingDecoder, Tokenizer } from './tokenizer';
import type { SentencePieceExport } from './tokenizer-json';

export interface SentencePieceVocabulary {
  /** Piece bytes per token id, with SentencePiece's U+2581 already turned into ' '. */
  readonly pieces: readonly Uint8Array[];
  readonly scores: Float32Array;
  /** Ids whose piece is printed as nothing (control tokens). */
  readonly controlTokens?: ReadonlySet<number>;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly unkTokenId?: number;
  readonly addBos?: boolean;
  readonly addDummyPrefix?: boolean;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextEncoder();
const bytePattern = /^<0x([0-9A-Fa-f]{2})>$/;

function key(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Min-heap of candidate merges ordered by score (desc) then left symbol index (asc). */
class MergeQueue {
  private readonly items: {
    score: number;
    left: number;
    right: number;
    id: number;
    leftStamp: number;
    rightStamp: number;
  }[] = [];
  private before(a: number, b: number): boolean {
    const x = this.items[a]!;
    const y = this.items[b]!;
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(item: MergeQueue['items'][number]): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): MergeQueue['items'][number] | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(l, best)) best = l;
        if (r < items.length && this.before(r, best)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

export class SentencePieceBpeTokenizer implements Tokenizer {
  readonly kind = 'sentencepiece-bpe' as const;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly addBosByDefault: boolean;
  private readonly pieces: readonly Uint8Array[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();
  private readonly byteTokens = new Int32Array(256).fill(-1);
  /** Bytes each token decodes to (byte tokens -> one byte, control tokens -> nothing). */
  private readonly decoded: Uint8Array[];
  private readonly addDummyPrefix: boolean;
  private readonly vocabulary: SentencePieceVocabulary;

  constructor(vocabulary: SentencePieceVocabulary) {
    this.vocabulary = vocabulary;
    this.pieces = vocabulary.pieces;
    this.scores = vocabulary.scores;
    this.vocabSize = vocabulary.pieces.length;
    if (vocabulary.bosTokenId !== undefined) this.bosTokenId = vocabulary.bosTokenId;
    if (vocabulary.eosTokenId !== undefined) this.eosTokenId = vocabulary.eosTokenId;
    this.addBosByDefault = vocabulary.addBos ?? true;
    this.addDummyPrefix = vocabulary.addDummyPrefix ?? true;
    this.decoded = vocabulary.pieces.map((piece, id) => {
      if (vocabulary.controlTokens?.has(id) || id === vocabulary.bosTokenId || id === vocabulary.eosTokenId) {
        return new Uint8Array(0);
      }
      const match = bytePattern.exec(latin1.decode(piece));
      if (match) {
        const byte = Number.parseInt(match[1]!, 16);
        if (this.byteTokens[byte] === -1) this.byteTokens[byte] = id;
        return Uint8Array.of(byte);
      }
      return piece;
    });
    vocabulary.pieces.forEach((piece, id) => {
      const k = key(piece);
      if (!this.lookup.has(k)) this.lookup.set(k, id);
    });
  }

  encode(text: string, options: { addBos?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if ((options.addBos ?? this.addBosByDefault) && this.bosTokenId !== undefined)
      tokens.push(this.bosTokenId);
    if (text.length === 0) return tokens;
    const bytes = utf8.encode(this.addDummyPrefix ? ` ${text}` : text);
    // One symbol per UTF-8 character, or its bytes when the character is not a piece.
    const symbols: number[] = [];
    let i = 0;
    while (i < bytes.length) {
      let end = i + 1;
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80 && end - i < 4) end++;
      const id = this.lookup.get(key(bytes.subarray(i, end)));
      if (id !== undefined) symbols.push(id);
      else {
        for (let b = i; b < end; b++) {
          const byteToken = this.byteTokens[bytes[b]!]!;
          symbols.push(Math.max(byteToken, 0));
        }
      }
      i = end;
    }
    // Merge with a priority queue over a linked list; equals run.c's repeated full scan.
    const n = symbols.length;
    const next = Int32Array.from({ length: n }, (_, s) => (s + 1 < n ? s + 1 : -1));
    const previous = Int32Array.from({ length: n }, (_, s) => s - 1);
    const stamps = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    const queue = new MergeQueue();
    const consider = (left: number) => {
      const right = next[left]!;
      if (right < 0) return;
      const merged = this.lookup.get(key(this.pieces[symbols[left]!]!) + key(this.pieces[symbols[right]!]!));
      if (merged === undefined) return;
      queue.push({
        score: this.scores[merged]!,
        left,
        right,
        id: merged,
        leftStamp: stamps[left]!,
        rightStamp: stamps[right]!,
      });
    };
    for (let s = 0; s + 1 < n; s++) consider(s);
    for (let item = queue.pop(); item; item = queue.pop()) {
      const { left, right } = item;
      if (!alive[left] || !alive[right] || next[left] !== right) continue;
      if (stamps[left] !== item.leftStamp || stamps[right] !== item.rightStamp) continue;
      symbols[left] = item.id;
      stamps[left]!++;
      alive[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) previous[next[right]!] = left;
      if (previous[left]! >= 0) consider(previous[left]!);
      consider(left);
    }
    for (let s = 0; s < n; s = next[s]!) {
      tokens.push(symbols[s]!);
      if (next[s]! < 0) break;
    }
    return tokens;
  }

  /** Bytes of `token` following `previous` (llama2.c: a piece after BOS loses its leading space). */
  pieceBytes(token: number, previous: number | undefined): Uint8Array {
    const bytes = this.decoded[token] ?? new Uint8Array(0);
    if (previous === this.bosTokenId && bytes.length > 0 && bytes[0] === 0x20 && this.pieces[token] === bytes)
      return bytes.subarray(1);
    return bytes;
  }

  decode(tokens: readonly number[]): string {
    const decoder = this.createDecoder();
    let text = '';
    for (const token of tokens) text += decoder.push(token);
    return text + decoder.flush();
  }

  createDecoder(previous?: number): StreamingDecoder {
    const textDecoder = new TextDecoder('utf-8');
    let last = previous ?? this.bosTokenId;
    return {
      push: (token: number) => {
        const bytes = this.pieceBytes(token, last);
        last = token;
        return textDecoder.decode(bytes, { stream: true });
      },
      flush: () => textDecoder.decode(),
    };
  }

  /** The vocabulary as strings and scores, for writing tokenizer.json or a GGUF vocabulary. */
  exportVocabulary(): SentencePieceExport {
    const text = new TextDecoder();
    const v = this.vocabulary;
    const controlTokens = new Set(v.controlTokens ?? []);
    for (const id of [v.unkTokenId, v.bosTokenId, v.eosTokenId]) if (id !== undefined) controlTokens.add(id);
    return {
      pieces: v.pieces.map((piece) => text.decode(piece)),
      scores: v.scores,
      ...(v.bosTokenId !== undefined ? { bosTokenId: v.bosTokenId } : {}),
      ...(v.eosTokenId !== undefined ? { eosTokenId: v.eosTokenId } : {}),
      ...(v.unkTokenId !== undefined ? { unkTokenId: v.unkTokenId } : {}),
      controlTokens,
      addBos: this.addBosByDefault,
      addDummyPrefix: this.addDummyPrefix,
    };
  }

  piece(token: number): string {
    return new TextDecoder().decode(this.pieces[token] ?? new Uint8Array(0));
  }
}

/** Reads llama2.c's tokenizer.bin: int32 max_token_length, then per token: f32 score, int32 length, bytes. */
export function readLlama2cTokenizer(
  bytes: Uint8Array,
  vocabSize?: number,
  file = 'tokenizer.bin',
): SentencePieceBpeTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 4;
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  while (offset + 8 <= bytes.byteLength && (vocabSize === undefined || pieces.length < vocabSize)) {
    scores.push(view.getFloat32(offset, true));
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || offset + length > bytes.byteLength)
      throw new FormatError(file, `piece ${pieces.length}`, 'runs past the end of the file');
    pieces.push(bytes.slice(offset, offset + length));
    offset += length;
  }
  return new SentencePieceBpeTokenizer({
    pieces,
    scores: Float32Array.from(scores),
    bosTokenId: 1,
    eosTokenId: 2,
    addBos: true,
    addDummyPrefix: true,
  });
}
