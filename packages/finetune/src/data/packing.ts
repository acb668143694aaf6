// Examples → fixed-length rows of (input, target, weight). With packing, several examples share a row;
// each keeps its own positions (from 0) and attends only within itself (block-diagonal causal mask).
// An example longer than a row is split into row-sized pieces, each a document of its own.
import type { EncodedExample } from './encode';

export interface PackedRow {
  inputIds: Int32Array;
  targets: Int32Array;
  /** 1 where the target counts in the loss. */
  weights: Float32Array;
  positions: Int32Array;
  documentStarts: Int32Array;
  /** Number of counted target tokens. */
  trainedTokens: number;
}

interface Piece {
  inputs: Int32Array;
  targets: Int32Array;
  weights: Uint8Array;
}

function piecesOf(example: EncodedExample, seqLen: number): Piece[] {
  const n = example.tokens.length - 1;
  const pieces: Piece[] = [];
  for (let start = 0; start < n; start += seqLen) {
    const end = Math.min(n, start + seqLen);
    const weights = example.weights.slice(start + 1, end + 1);
    if (!weights.some((w) => w > 0)) continue;
    pieces.push({
      inputs: example.tokens.slice(start, end),
      targets: example.tokens.slice(start + 1, end + 1),
      weights,
    });
  }
  return pieces;
}

function emptyRow(seqLen: number): PackedRow {
  const documentStarts = new Int32Array(seqLen);
  for (let i = 0; i < seqLen; i++) documentStarts[i] = i;
  return {
    inputIds: new Int32Array(seqLen),
    targets: new Int32Array(seqLen),
    weights: new Float32Array(seqLen),
    positions: new Int32Array(seqLen),
    documentStarts,
    trainedTokens: 0,
  };
}

export interface PackOptions {
  seqLen: number;
  /** Pack several examples into one row (default true); false puts one example per row, padded. */
  packing?: boolean;
  /** Token id used for padding inputs (never trained on). Default 0. */
  padTokenId?: number;
}

export function packExamples(examples: readonly EncodedExample[], options: PackOptions): PackedRow[] {
  const { seqLen } = options;
  const packing = options.packing ?? true;
  const rows: PackedRow[] = [];
  let row: PackedRow | undefined;
  let used = 0;
  for (const example of examples) {
    for (const piece of piecesOf(example, seqLen)) {
      const length = piece.inputs.length;
      if (!row || !packing || used + length > seqLen) {
        row = emptyRow(seqLen);
        if (options.padTokenId) row.inputIds.fill(options.padTokenId);
        rows.push(row);
        used = 0;
      }
      row.inputIds.set(piece.inputs, used);
      row.targets.set(piece.targets, used);
      for (let i = 0; i < length; i++) {
        row.weights[used + i] = piece.weights[i];
        row.positions[used + i] = i;
        row.documentStarts[used + i] = used;
        row.trainedTokens += piece.weights[i];
      }
      used += length;
    }
  }
  return rows;
}
