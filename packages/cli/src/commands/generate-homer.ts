// meld generate --long-context homer: read an input longer than the model's context with HOMER
// (@meld/context-merge) and continue it from the merged KV cache. Kept apart from generate.ts, which
// only routes the flags here.
import { existsSync } from 'node:fs';
import {
  calibrationPathFor,
  type HomerCalibration,
  homerGenerate,
  homerInputFromText,
  homerPrefill,
  loadHomerCalibration,
} from '@meld/context-merge';
import type { KVCacheShape, KVCacheV1 } from '@meld/kv-cache';
import type { Model } from '@meld/runtime';
import { MeldError } from '@meld/tensor-core';
import { z } from 'zod';
import { type CommandIO, UsageError } from '../command';
import type { FlagSpecs } from '../options/parse';
import type { SamplingOptions } from '../options/sampling';
import { printWarnings } from '../output';

export const homerFlags = {
  'long-context': { type: 'string' },
  prefix: { type: 'string' },
  suffix: { type: 'string' },
  'homer-calibration': { type: 'string' },
} as const satisfies FlagSpecs;

export const homerSchema = {
  'long-context': z.enum(['homer'], { error: '--long-context must be homer' }).optional(),
  prefix: z.string().optional(),
  suffix: z.string().optional(),
  'homer-calibration': z.string().optional(),
};

export const homerHelp = `  --long-context homer  (default off) read a prompt longer than the context with HOMER (hierarchical context merging):
                        chunks share a prefix and a suffix, merge in the upper layers, and the model
                        continues from the merged cache. Prints only the continuation on stdout, and
                        peak_bytes=N (engine accounting: live activations + KV) on stderr
  --prefix TEXT         with --long-context: instruction shared by every chunk, after BOS (default none)
  --suffix TEXT         with --long-context: the tail to continue or a question, appended after the input
                        (default: the input's last sentence, cut from it)
  --homer-calibration FILE  with --long-context: calibration bias JSON (default: MODEL.homer-calibration.json
                        beside the model when present; without one, tokens are ranked by raw attention logits)
`;

export interface HomerFlags {
  readonly model: string;
  readonly prefix?: string | undefined;
  readonly suffix?: string | undefined;
  readonly calibration?: string | undefined;
  readonly maxTokens?: number | undefined;
  readonly sampling: SamplingOptions;
  /** Empty cache under the chosen --kv-policy (the merged KV is copied into it), or undefined for full. */
  readonly createCache?: ((shape: KVCacheShape) => KVCacheV1) | undefined;
}

export async function runHomerGenerate(
  model: Model,
  text: string,
  flags: HomerFlags,
  io: CommandIO,
): Promise<number> {
  let calibration: HomerCalibration | undefined;
  const calibrationPath = flags.calibration ?? calibrationPathFor(flags.model);
  if (flags.calibration !== undefined || existsSync(calibrationPath)) {
    try {
      calibration = loadHomerCalibration(calibrationPath);
    } catch (error) {
      if (MeldError.isInstance(error))
        throw new UsageError(`--homer-calibration: ${(error as Error).message}`);
      throw error;
    }
  }
  let input: ReturnType<typeof homerInputFromText>;
  try {
    input = homerInputFromText(model, text, {
      ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
      ...(flags.suffix !== undefined ? { suffix: flags.suffix } : {}),
    });
  } catch (error) {
    if (MeldError.isInstance(error)) throw new UsageError(`--long-context: ${(error as Error).message}`);
    throw error;
  }
  const started = performance.now();
  const prefill = homerPrefill(model, input, calibration ? { calibration } : {});
  const prefillMs = performance.now() - started;
  printWarnings(io, prefill.warnings);
  const shape = {
    layers: model.config.numLayers,
    kvHeads: model.config.numKVHeads,
    headDim: model.config.headDim,
  };
  const target = flags.createCache?.(shape);
  const { stop, ...sampling } = flags.sampling;
  let completion = 0;
  for await (const event of homerGenerate(model, prefill, {
    ...sampling,
    stop,
    ...(flags.maxTokens !== undefined ? { maxTokens: flags.maxTokens } : {}),
    ...(target ? { cache: target } : {}),
    lastInputToken: input.suffix[input.suffix.length - 1]!,
  })) {
    if (event.text) io.stdout.write(event.text);
    if (event.type === 'finish') {
      io.stdout.write('\n');
      completion = event.completionTokens;
      io.stderr.write(
        `homer: ${prefill.inputTokens} input tokens in ${prefill.plan.leafCount} chunks (height ${prefill.plan.height}) ` +
          `read in ${prefillMs.toFixed(1)} ms, ${prefill.keptTokens} kept; generated ${completion} tokens (${event.finishReason})\n`,
      );
    }
  }
  const cache = target ?? prefill.cache;
  io.stderr.write(
    `kv_bytes=${cache.bytes()} peak_kv_bytes=${cache.peakBytes()} peak_bytes=${Math.max(prefill.peakBytes, cache.peakBytes())}\n`,
  );
  return 0;
}
