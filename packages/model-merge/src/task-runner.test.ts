// How the arena is shared out between a merge's buffers: sized for the tasks that fit, leaving the
// outliers (a huge embedding) to heap buffers rather than pushing every other tensor out.
import { expect, it } from 'vitest';
import { bufferSizes } from './task-runner';

it('sizes the buffers for every task when they all fit', () => {
  const tasks = [
    { inputs: [10, 20], output: 5 },
    { inputs: [30, 5], output: 8 },
  ];
  expect(bufferSizes(tasks, 2, 1000)).toEqual({ inputs: [30, 20], output: 8 });
});

it('leaves out the largest tasks until the rest fit', () => {
  const layer = { inputs: [100, 100, 100], output: 100 };
  const embedding = { inputs: [900, 900, 900], output: 900 };
  // the embedding's set (2700 + 2 × 900) does not fit 1000; the layers' (300 + 2 × 100) does
  expect(bufferSizes([embedding, layer, layer, embedding], 2, 1000)).toEqual({
    inputs: [100, 100, 100],
    output: 100,
  });
  expect(bufferSizes([embedding], 2, 10)).toEqual({ inputs: [], output: 0 });
});
