// Token reduction (alinlab/HOMER patch_llama.py::_merge_power_max_last_calibrated): a token's
// significance is the largest pre-softmax attention logit q·k/sqrt(d) the LAST query gives it over
// all heads, minus a calibration bias that depends on the layer and on the token's distance from
// the last token; prefix and suffix tokens are never dropped; the lowest `count` go.
import type { AttentionEvent, AttentionObserverV1 } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import type { HomerCalibration } from './calibration';

/** Collects, for one layer, the max over query heads of the last query's pre-softmax logits. */
export class LastQueryLogitCollector implements AttentionObserverV1 {
  readonly specificationVersion = 'v1' as const;
  readonly layers: readonly number[];
  readonly queries = 'last' as const;
  readonly includeLogits = true;
  /** Max over heads per key slot; filled by the forward pass. */
  maxLogits: Float64Array = new Float64Array(0);
  keyPositions: Int32Array = new Int32Array(0);
  lastPosition = 0;

  constructor(layer: number) {
    this.layers = [layer];
  }

  onAttention(event: AttentionEvent): void {
    const logits = event.logits;
    if (!logits) return;
    if (this.maxLogits.length !== event.length) {
      this.maxLogits = new Float64Array(event.length).fill(Number.NEGATIVE_INFINITY);
      this.keyPositions = Int32Array.from(event.keyPositions.subarray(0, event.length));
      this.lastPosition = event.queryPositions[0]!;
    }
    for (let j = 0; j < event.length; j++) {
      const value = logits[j]!;
      if (value > this.maxLogits[j]!) this.maxLogits[j] = value;
    }
  }
}

/** Bias for `layer` at `distance` tokens before the last one (0 without calibration). */
export function calibrationBias(
  calibration: HomerCalibration | undefined,
  layer: number,
  distance: number,
): number {
  if (!calibration) return 0;
  const row = calibration.bias[layer];
  if (!row || row.length === 0) return 0;
  const clamped = Math.min(Math.max(distance, 0), row.length - 1);
  return row[clamped]!;
}

/** significance[j] = maxLogits[j] - bias[layer][lastPosition - keyPositions[j]]. */
export function significance(
  maxLogits: ArrayLike<number>,
  keyPositions: ArrayLike<number>,
  lastPosition: number,
  layer: number,
  calibration?: HomerCalibration,
): Float64Array {
  const out = new Float64Array(maxLogits.length);
  for (let j = 0; j < out.length; j++) {
    out[j] = maxLogits[j]! - calibrationBias(calibration, layer, lastPosition - keyPositions[j]!);
  }
  return out;
}

/**
 * Rows to keep (ascending) after dropping the `count` least significant context rows; rows in
 * [0, prefixLength) and the last `suffixLength` rows are kept whatever their score. Ties drop the
 * earlier row first.
 */
export function rowsToKeep(
  scores: ArrayLike<number>,
  prefixLength: number,
  suffixLength: number,
  count: number,
): Int32Array {
  const length = scores.length;
  const candidates: number[] = [];
  for (let j = prefixLength; j < length - suffixLength; j++) candidates.push(j);
  if (count < 0 || count > candidates.length) {
    throw new ValidationError('count', `cannot drop ${count} of ${candidates.length} context tokens`);
  }
  candidates.sort((a, b) => scores[a]! - scores[b]! || a - b);
  const dropped = new Uint8Array(length);
  for (let i = 0; i < count; i++) dropped[candidates[i]!] = 1;
  const keep: number[] = [];
  for (let j = 0; j < length; j++) if (!dropped[j]) keep.push(j);
  return Int32Array.from(keep);
}
