// The calibration bias HOMER subtracts from attention logits before ranking tokens. The reference
// loads it from an external file; this package measures it. Procedure (ours, documented in README):
// cut the calibration text's tokens into windows of `windowLength` tokens (BOS first), run each
// window through the model once, and at every layer record, for each key slot, the max over query
// heads of the LAST query's pre-softmax logit. bias[layer][d] is the mean of that value over all
// slots at distance d from the last token (d = 0 is the last token itself). Subtracting it removes
// the part of a token's score that comes from being near the end (recency), so tokens are ranked
// by how much more attention they get than a typical token at the same distance.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Model } from '@meld/runtime';
import { FormatError, ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { LastQueryLogitCollector } from './reduction';

export const homerCalibrationSchema = z.object({
  specificationVersion: z.literal('v1'),
  kind: z.literal('homer-calibration'),
  /** Where the model came from (informational). */
  model: z.string(),
  numLayers: z.number().int().positive(),
  windowLength: z.number().int().positive(),
  windows: z.number().int().positive(),
  /** bias[layer][distance], distance 0..windowLength-1 from the last token. */
  bias: z.array(z.array(z.number())),
});
export type HomerCalibration = z.infer<typeof homerCalibrationSchema>;

export const calibrateOptionsSchema = z.object({
  /** Tokens per window (default: the model's context, so every distance a chunk can hold is measured). */
  windowLength: z.number().int().min(2).optional(),
  /** Windows to use at most (default 16). */
  maxWindows: z.number().int().positive().default(16),
});
export type CalibrateOptions = z.input<typeof calibrateOptionsSchema>;

/** Measures the per-layer, per-distance bias on `text` (must give at least one full window). */
export function calibrateHomer(model: Model, text: string, options: CalibrateOptions = {}): HomerCalibration {
  const parsed = calibrateOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const { numLayers, contextLength } = model.config;
  const windowLength = Math.min(parsed.data.windowLength ?? contextLength, contextLength);
  const tokens = model.encode(text, { addBos: false });
  const bos = model.config.bosTokenId;
  const body = bos === undefined ? windowLength : windowLength - 1;
  const windows = Math.min(parsed.data.maxWindows, Math.floor(tokens.length / body));
  if (windows < 1) {
    throw new ValidationError('text', `gives ${tokens.length} tokens, fewer than one window of ${body}`);
  }
  const sums = Array.from({ length: numLayers }, () => new Float64Array(windowLength));
  const counts = new Float64Array(windowLength);
  for (let w = 0; w < windows; w++) {
    const slice = tokens.slice(w * body, (w + 1) * body);
    const window = bos === undefined ? slice : [bos, ...slice];
    const collectors = Array.from({ length: numLayers }, (_, layer) => new LastQueryLogitCollector(layer));
    model.forward(window, { observers: collectors });
    for (const [layer, collector] of collectors.entries()) {
      for (let j = 0; j < collector.maxLogits.length; j++) {
        const distance = collector.lastPosition - collector.keyPositions[j]!;
        sums[layer]![distance] = sums[layer]![distance]! + collector.maxLogits[j]!;
        if (layer === 0) counts[distance] = counts[distance]! + 1;
      }
    }
  }
  return {
    specificationVersion: 'v1',
    kind: 'homer-calibration',
    model: model.source,
    numLayers,
    windowLength,
    windows,
    bias: sums.map((row) => Array.from(row, (sum, d) => (counts[d]! > 0 ? sum / counts[d]! : 0))),
  };
}

/** The conventional place for a model's calibration: `<model path>.homer-calibration.json`. */
export function calibrationPathFor(modelPath: string): string {
  return `${modelPath}.homer-calibration.json`;
}

/** Writes atomically (temp file in the same folder, then rename). */
export function saveHomerCalibration(path: string, calibration: HomerCalibration): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(calibration)}\n`);
  renameSync(temporary, path);
}

export function loadHomerCalibration(path: string): HomerCalibration {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FormatError(path, '(file)', `not readable JSON: ${(error as Error).message}`);
  }
  const parsed = homerCalibrationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FormatError(path, issue?.path.join('.') ?? '', issue?.message ?? 'invalid');
  }
  if (parsed.data.bias.length !== parsed.data.numLayers) {
    throw new FormatError(
      path,
      'bias',
      `${parsed.data.bias.length} rows for ${parsed.data.numLayers} layers`,
    );
  }
  return parsed.data;
}
