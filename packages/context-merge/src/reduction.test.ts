import type { AttentionEvent } from '@meld/runtime';
import { describe, expect, it } from 'vitest';
import type { HomerCalibration } from './calibration';
import { LastQueryLogitCollector, rowsToKeep, significance } from './reduction';

function event(head: number, logits: number[], keyPositions: number[], last: number): AttentionEvent {
  return {
    layer: 3,
    head,
    kvHead: head >> 1,
    queryIndices: Int32Array.of(logits.length - 1),
    queryPositions: Int32Array.of(last),
    length: logits.length,
    keyPositions: Int32Array.from(keyPositions),
    weights: new Float32Array(logits.length),
    logits: Float32Array.from(logits),
  };
}

describe('token reduction', () => {
  it('takes the max over heads of the last query logit, minus the per-distance bias', () => {
    const collector = new LastQueryLogitCollector(3);
    const positions = [0, 1, 2, 3, 4, 5];
    collector.onAttention(event(0, [1, 5, 0, 2, 2, 3], positions, 5));
    collector.onAttention(event(1, [2, 1, 4, 2, 1, 0], positions, 5));
    expect(Array.from(collector.maxLogits)).toEqual([2, 5, 4, 2, 2, 3]);
    const bias = [0, 0, 0, 0, 0, 0];
    const calibration: HomerCalibration = {
      specificationVersion: 'v1',
      kind: 'homer-calibration',
      model: 'hand',
      numLayers: 4,
      windowLength: 6,
      windows: 1,
      // layer 3: tokens 1 and 2 before the last are favoured by recency: +1.5 and +3 there
      bias: [bias, bias, bias, [0, 3, 1.5, 0, 0, 0]],
    };
    const scores = significance(
      collector.maxLogits,
      collector.keyPositions,
      collector.lastPosition,
      3,
      calibration,
    );
    // distances 5,4,3,2,1,0 -> biases 0,0,0,1.5,3,0
    expect(Array.from(scores)).toEqual([2, 5, 4, 0.5, -1, 3]);
    expect(Array.from(significance(collector.maxLogits, collector.keyPositions, 5, 3))).toEqual([
      2, 5, 4, 2, 2, 3,
    ]);
  });

  it('drops the lowest context rows and never the prefix or suffix', () => {
    // prefix 1 (row 0, lowest score of all), suffix 1 (row 5); context rows 1..4 scores 5, 4, 0.5, -1.
    const keep = rowsToKeep([-9, 5, 4, 0.5, -1, -7], 1, 1, 2);
    expect(Array.from(keep)).toEqual([0, 1, 2, 5]);
    expect(Array.from(rowsToKeep([-9, 5, 4, 0.5, -1, -7], 1, 1, 0))).toEqual([0, 1, 2, 3, 4, 5]);
    // ties: the earlier row goes first
    expect(Array.from(rowsToKeep([0, 1, 1, 1, 0], 1, 1, 1))).toEqual([0, 2, 3, 4]);
    expect(() => rowsToKeep([0, 1, 2], 1, 1, 2)).toThrow(/cannot drop 2 of 1/);
  });
});
