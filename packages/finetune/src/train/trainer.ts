// The training loop: LoRA on a frozen base, AdamW with warm-up + cosine decay, gradient clipping and
// accumulation, checkpoints every N steps, exact resume, and the adapter + loss curve at the end.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError, writePeftAdapter } from '@meld/tensor-core';
import { writeFileAtomically } from '../atomic-write';
import { crossEntropy } from '../autodiff/cross-entropy';
import { Tape } from '../autodiff/tape';
import { encodeSegments, type TrainingTokenizer } from '../data/encode';
import { packExamples } from '../data/packing';
import type { TrainingRecord } from '../data/records';
import { promptTemplates } from '../data/templates';
import { createLoraParameters, type LoraParameters, trainableVariables } from '../lora/lora-parameters';
import { toPeftAdapter } from '../lora/peft-export';
import type { BaseWeights } from '../model/llama-config';
import { FrozenModel, trainForward } from '../model/train-forward';
import { AdamW, clipGradNorm } from '../optim/adamw';
import { learningRateFactor } from '../optim/schedule';
import { SeededRandom } from '../random';
import { BatchPlan } from './batches';
import {
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainerState,
  trainerStateFileName,
} from './checkpoint';
import { lossCurveSvg } from './loss-curve';
import { type FinetuneOptions, type FinetuneOptionsInput, parseFinetuneOptions } from './options';

export type FinetuneProgressEvent =
  | { type: 'data-prepared'; examples: number; rows: number; trainedTokens: number; totalSteps: number }
  | { type: 'resumed'; step: number; checkpoint: string }
  | {
      type: 'step-end';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      learningRate: number;
      gradientNorm: number;
      tokensPerSecond: number;
      etaSeconds: number;
    }
  | { type: 'checkpoint-saved'; step: number; path: string }
  | { type: 'train-end'; steps: number; adapterDir: string };

export interface FinetuneInput {
  base: BaseWeights;
  tokenizer: TrainingTokenizer;
  records: readonly TrainingRecord[];
  options: FinetuneOptionsInput;
  onProgress?: (event: FinetuneProgressEvent) => void;
  signal?: AbortSignal;
}

export interface FinetuneResult {
  adapterDir: string;
  steps: number;
  lossHistory: TrainerState['lossHistory'];
  /** Input positions processed per second of training (this run, excluding resumed steps). */
  tokensPerSecond: number;
  lossCurvePath: string;
  lora: LoraParameters;
  warnings: string[];
}

function fingerprint(options: FinetuneOptions, rows: number): string {
  const {
    lora,
    seqLen,
    batchSize,
    gradientAccumulation,
    epochs,
    seed,
    template,
    packing,
    learningRate,
    schedule,
  } = options;
  return JSON.stringify({
    lora,
    seqLen,
    batchSize,
    gradientAccumulation,
    epochs,
    seed,
    template,
    packing,
    learningRate,
    schedule,
    rows,
  });
}

export async function finetune(input: FinetuneInput): Promise<FinetuneResult> {
  const options = parseFinetuneOptions(input.options);
  const warnings: string[] = [];
  const template = promptTemplates.get(options.template);
  if (!template) {
    throw new ValidationError(
      'options.template',
      `unknown template '${options.template}' (known: ${[...promptTemplates.keys()].join(', ')})`,
    );
  }
  if (options.seqLen > input.base.config.maxPositionEmbeddings) {
    throw new ValidationError(
      'options.seqLen',
      `exceeds the model's ${input.base.config.maxPositionEmbeddings} positions`,
    );
  }
  const model = new FrozenModel(input.base);
  const examples = input.records.map((r) => encodeSegments(template.render(r), input.tokenizer));
  const rows = packExamples(examples, { seqLen: options.seqLen, packing: options.packing });
  if (rows.length === 0) throw new ValidationError('records', 'no example has a token to train on');
  const sequencesPerStep = options.batchSize * options.gradientAccumulation;
  const totalSteps = Math.max(1, Math.ceil((options.epochs * rows.length) / sequencesPerStep));
  const lastStep = Math.min(totalSteps, options.maxSteps ?? totalSteps);
  const warmupSteps = options.warmupSteps ?? Math.ceil(options.warmupRatio * totalSteps);
  input.onProgress?.({
    type: 'data-prepared',
    examples: examples.length,
    rows: rows.length,
    trainedTokens: rows.reduce((s, r) => s + r.trainedTokens, 0),
    totalSteps,
  });

  const lora = createLoraParameters(input.base, options.lora, new SeededRandom(options.seed));
  const parameters = trainableVariables(lora);
  const optimizer = new AdamW(parameters, { weightDecay: options.weightDecay });
  const plan = new BatchPlan(rows, options.seed);
  const print = fingerprint(options, rows.length);
  const metadata = { baseModel: options.baseModel };
  mkdirSync(options.outputDir, { recursive: true });

  let state: TrainerState = {
    specificationVersion: 'v1',
    globalStep: 0,
    totalSteps,
    sequencesSeen: 0,
    epoch: 0,
    rowInEpoch: 0,
    fingerprint: print,
    lossHistory: [],
  };
  if (options.resume) {
    const checkpoint = latestCheckpoint(options.outputDir);
    if (checkpoint) {
      state = loadCheckpoint(checkpoint, lora, optimizer);
      if (state.fingerprint !== print) {
        throw new ValidationError(
          'options.resume',
          `${join(checkpoint, trainerStateFileName)} was made with different options or data; resume needs the same ones`,
        );
      }
      input.onProgress?.({ type: 'resumed', step: state.globalStep, checkpoint });
    } else {
      warnings.push(`no checkpoint in ${options.outputDir}; starting from step 0`);
    }
  }

  const started = performance.now();
  let tokensThisRun = 0;
  const tokensPerMicroBatch = options.batchSize * options.seqLen;
  for (let step = state.globalStep; step < lastStep; step++) {
    if (input.signal?.aborted) throw input.signal.reason ?? new Error('aborted');
    const first = step * sequencesPerStep;
    // Normalise by the trained tokens of the whole accumulated batch, so micro-batches sum to its mean.
    let trainedTokens = 0;
    for (let k = 0; k < sequencesPerStep; k++) trainedTokens += plan.rowAt(first + k).row.trainedTokens;
    let lossSum = 0;
    for (let micro = 0; micro < options.gradientAccumulation; micro++) {
      const { tokens, targets, weights } = plan.batch(first + micro * options.batchSize, options.batchSize);
      const dropoutRandom = new SeededRandom(
        (options.seed ^ Math.imul(step + 1, 0x9e3779b1) ^ (micro * 0x85ebca6b)) >>> 0,
      );
      const tape = new Tape(true);
      const logits = trainForward(tape, model, tokens, { lora, dropoutRandom: dropoutRandom.next });
      const { loss, sum } = crossEntropy(tape, logits, targets, weights, Math.max(1, trainedTokens));
      tape.backward(loss);
      lossSum += sum;
      tokensThisRun += tokensPerMicroBatch;
    }
    const gradientNorm = options.maxGradNorm > 0 ? clipGradNorm(parameters, options.maxGradNorm) : Number.NaN;
    const learningRate =
      options.learningRate * learningRateFactor({ name: options.schedule, warmupSteps, totalSteps }, step);
    optimizer.step(learningRate);
    optimizer.zeroGrad();

    const loss = lossSum / Math.max(1, trainedTokens);
    const done = step + 1;
    const position = plan.rowAt(done * sequencesPerStep);
    state = {
      ...state,
      globalStep: done,
      sequencesSeen: done * sequencesPerStep,
      epoch: position.epoch,
      rowInEpoch: position.rowInEpoch,
      lossHistory: [...state.lossHistory, { step: done, loss, learningRate }],
    };
    const seconds = (performance.now() - started) / 1000;
    const tokensPerSecond = tokensThisRun / Math.max(seconds, 1e-9);
    input.onProgress?.({
      type: 'step-end',
      step: done,
      totalSteps: lastStep,
      epoch: (done * sequencesPerStep) / rows.length,
      loss,
      learningRate,
      gradientNorm,
      tokensPerSecond,
      etaSeconds: ((lastStep - done) * sequencesPerStep * options.seqLen) / Math.max(tokensPerSecond, 1e-9),
    });
    if (options.saveEvery > 0 && done % options.saveEvery === 0 && done < lastStep) {
      const path = saveCheckpoint(options.outputDir, lora, optimizer, state, metadata);
      input.onProgress?.({ type: 'checkpoint-saved', step: done, path });
    }
    // Let timers, signals and I/O run between steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  const seconds = (performance.now() - started) / 1000;
  writePeftAdapter(options.outputDir, toPeftAdapter(lora, metadata));
  writeFileAtomically(join(options.outputDir, trainerStateFileName), `${JSON.stringify(state, null, 2)}\n`);
  const lossCurvePath = join(options.outputDir, 'loss-curve.svg');
  writeFileAtomically(
    lossCurvePath,
    lossCurveSvg(state.lossHistory, `training loss (${state.globalStep} steps)`),
  );
  input.onProgress?.({ type: 'train-end', steps: state.globalStep, adapterDir: options.outputDir });
  return {
    adapterDir: options.outputDir,
    steps: state.globalStep,
    lossHistory: state.lossHistory,
    tokensPerSecond: tokensThisRun / Math.max(seconds, 1e-9),
    lossCurvePath,
    lora,
    warnings,
  };
}
