// Checkpoints as OUT/checkpoint-STEP/: the adapter (PEFT files), the optimizer's moments
// (optimizer.safetensors, keys '<param>.exp_avg' / '<param>.exp_avg_sq' as torch names them) and
// trainer_state.json (step, data position, loss history). A checkpoint folder is written under a
// temporary name and renamed into place, so a kill never leaves a half-written checkpoint.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  FormatError,
  openSafetensors,
  readPeftAdapter,
  Tensor,
  writePeftAdapter,
  writeSafetensors,
} from '@meld/tensor-core';
import { z } from 'zod';
import { writeFileAtomically } from '../atomic-write';
import type { LoraParameters } from '../lora/lora-parameters';
import { type AdapterMetadata, loadPeftFactors, toPeftAdapter } from '../lora/peft-export';
import type { AdamW } from '../optim/adamw';

export const trainerStateFileName = 'trainer_state.json';
export const optimizerFileName = 'optimizer.safetensors';

export const trainerStateSchema = z.object({
  specificationVersion: z.literal('v1'),
  /** Optimizer steps completed. */
  globalStep: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive(),
  /** Data position: sequences consumed so far, and the epoch / row within it where training resumes. */
  sequencesSeen: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  rowInEpoch: z.number().int().nonnegative(),
  /** A fingerprint of the options that must not change across a resume. */
  fingerprint: z.string(),
  lossHistory: z.array(z.object({ step: z.number(), loss: z.number(), learningRate: z.number() })),
});
export type TrainerState = z.infer<typeof trainerStateSchema>;

export function checkpointFolder(outputDir: string, step: number): string {
  return join(outputDir, `checkpoint-${step}`);
}

export function saveCheckpoint(
  outputDir: string,
  lora: LoraParameters,
  optimizer: AdamW,
  state: TrainerState,
  metadata: AdapterMetadata,
): string {
  const final = checkpointFolder(outputDir, state.globalStep);
  const temporary = `${final}.partial-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  writePeftAdapter(temporary, toPeftAdapter(lora, metadata));
  const entries: Array<[string, Tensor]> = [];
  optimizer.parameters.forEach((parameter, i) => {
    const { m, v } = optimizer.state.moments[i];
    entries.push([`${parameter.name}.exp_avg`, Tensor.fromF32(m, [...parameter.shape])]);
    entries.push([`${parameter.name}.exp_avg_sq`, Tensor.fromF32(v, [...parameter.shape])]);
  });
  writeSafetensors(join(temporary, optimizerFileName), new Map(entries), {
    metadata: { step: String(optimizer.state.step) },
  });
  writeFileAtomically(join(temporary, trainerStateFileName), `${JSON.stringify(state, null, 2)}\n`);
  rmSync(final, { recursive: true, force: true });
  renameSync(temporary, final);
  return final;
}

/** The completed checkpoint with the highest step in `outputDir`, if any. */
export function latestCheckpoint(outputDir: string): string | undefined {
  if (!existsSync(outputDir)) return undefined;
  let best: { step: number; path: string } | undefined;
  for (const name of readdirSync(outputDir)) {
    const match = /^checkpoint-(\d+)$/.exec(name);
    if (!match) continue;
    const path = join(outputDir, name);
    if (!existsSync(join(path, trainerStateFileName))) continue;
    const step = Number(match[1]);
    if (!best || step > best.step) best = { step, path };
  }
  return best?.path;
}

/** Restores factors, optimizer moments and step; returns the trainer state. */
export function loadCheckpoint(folder: string, lora: LoraParameters, optimizer: AdamW): TrainerState {
  const statePath = join(folder, trainerStateFileName);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(statePath, 'utf8'));
  } catch (error) {
    throw new FormatError(statePath, 'json', (error as Error).message);
  }
  const parsed = trainerStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new FormatError(statePath, parsed.error.issues[0].path.join('.'), parsed.error.issues[0].message);
  }
  loadPeftFactors(lora, readPeftAdapter(folder));
  const file = openSafetensors(join(folder, optimizerFileName));
  try {
    optimizer.parameters.forEach((parameter, i) => {
      const moments = optimizer.state.moments[i];
      moments.m.set(file.readTensor(`${parameter.name}.exp_avg`).toFloat32());
      moments.v.set(file.readTensor(`${parameter.name}.exp_avg_sq`).toFloat32());
    });
  } finally {
    file.close();
  }
  optimizer.state.step = parsed.data.globalStep;
  return parsed.data;
}
