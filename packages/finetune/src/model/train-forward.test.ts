import { readFileSync } from 'node:fs';
import { loadLlama2c, type Model } from '@meld/runtime';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { stories260kFiles } from '../__fixtures__/stories260k';
import { crossEntropy } from '../autodiff/cross-entropy';
import { Tape } from '../autodiff/tape';
import { parseLoraConfig } from '../lora/lora-config';
import { createLoraParameters, trainableVariables } from '../lora/lora-parameters';
import { SeededRandom } from '../random';
import { baseWeightsFromModel } from './from-runtime';
import type { BaseWeights } from './llama-config';
import { FrozenModel, trainForward } from './train-forward';

function argmaxLastRow(logits: Float32Array | Float64Array, vocab: number): number {
  const rows = logits.length / vocab;
  const o = (rows - 1) * vocab;
  let best = 0;
  for (let c = 1; c < vocab; c++) if (logits[o + c] > logits[o + best]) best = c;
  return best;
}

describeWithShared('training forward on stories260K', stories260kFiles, () => {
  let runtimeModel: Model;
  let base: BaseWeights;
  let model: FrozenModel;
  beforeAll(async () => {
    runtimeModel = await loadLlama2c(
      sharedFile('models/stories260K/stories260K.bin'),
      sharedFile('models/stories260K/tok512.bin'),
    );
    base = baseWeightsFromModel(runtimeModel);
    model = new FrozenModel(base);
  });

  it('greedy decoding reproduces llama2.c run.c reference text', () => {
    const reference = readFileSync(sharedFile('models/stories260K/REFERENCE.md'), 'utf8');
    const expected = /## 1\.[^\n]*\n```text\n([\s\S]*?)```/.exec(reference)?.[1] ?? '';
    const tokens = [1];
    for (let step = 0; step < 48; step++) {
      const logits = trainForward(new Tape(false), model, {
        batch: 1,
        seqLen: tokens.length,
        inputIds: Int32Array.from(tokens),
      });
      tokens.push(argmaxLastRow(logits.data, base.config.vocabSize));
    }
    const text = runtimeModel.tokenizer.decode(tokens.slice(1));
    expect(text.length).toBeGreaterThan(100);
    expect(expected.startsWith(text)).toBe(true);
  });

  it('LoRA starts at the base model and its gradients match finite differences', () => {
    const lora = createLoraParameters(
      base,
      parseLoraConfig({ rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'down_proj'] }),
      new SeededRandom(3),
    );
    expect(lora.modules.size).toBe(10);
    // Make B non-zero so gradients flow into A too.
    const random = new SeededRandom(4);
    for (const m of lora.modules.values())
      for (let i = 0; i < m.b.size; i++) m.b.data[i] = (random.next() - 0.5) * 0.2;
    const inputIds = Int32Array.from([1, 403, 261, 378, 300, 412, 265, 291]);
    const targets = Array.from(inputIds.slice(1)).concat([2]);
    const weights = [0, 0, 1, 1, 1, 1, 1, 1];
    const lossOf = (tape: Tape) => {
      const logits = trainForward(tape, model, { batch: 1, seqLen: 8, inputIds }, { lora });
      return crossEntropy(tape, logits, targets, weights).loss;
    };
    const tape = new Tape(true);
    const loss = lossOf(tape);
    tape.backward(loss);
    const variables = trainableVariables(lora);
    const picks: Array<[number, number]> = [
      [0, 0],
      [0, 17],
      [1, 5],
      [8, 3],
      [9, 40],
    ];
    for (const [v, i] of picks) {
      const variable = variables[v];
      const analytic = variable.grad?.[i] ?? 0;
      const saved = variable.data[i];
      const h = 1e-2;
      variable.data[i] = saved + h;
      const plus = lossOf(new Tape(false)).data[0];
      variable.data[i] = saved - h;
      const minus = lossOf(new Tape(false)).data[0];
      variable.data[i] = saved;
      const numeric = (plus - minus) / (2 * h);
      expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
      expect(Math.abs(analytic - numeric)).toBeLessThan(0.02 * Math.abs(numeric) + 2e-4);
    }
  });
});
