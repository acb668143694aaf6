// mergekit's documented example configs parse, and their parameters resolve to what mergekit means.
import { describe, expect, it } from 'vitest';
import { MergeConfigError, parseMergeConfig } from './parse';
import { evaluateGradient, resolveParameters } from './resolve';

// examples/gradient-slerp.yml from mergekit's README
const gradientSlerp = `
slices:
  - sources:
      - model: psmathur/orca_mini_v3_13b
        layer_range: [0, 40]
      - model: garage-bAInd/Platypus2-13B
        layer_range: [0, 40]
merge_method: slerp
base_model: psmathur/orca_mini_v3_13b
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5 # fallback for rest of tensors
dtype: float16
`;

// examples/ties.yml
const ties = `
models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: garage-bAInd/Platypus2-13B
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters:
  normalize: true
  int8_mask: true
dtype: float16
`;

// examples/linear.yml
const linear = `
models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      weight: 1.0
  - model: WizardLM/WizardLM-13B-V1.2
    parameters:
      weight: 0.3
  - model: garage-bAInd/Platypus2-13B
    parameters:
      weight: 0.5
merge_method: linear
dtype: float16
`;

// examples/orcamini-platy-44layer.yml (passthrough frankenmerge)
const frankenmerge = `
slices:
  - sources:
      - model: psmathur/orca_mini_v3_13b
        layer_range: [0, 24]
  - sources:
      - model: garage-bAInd/Platypus2-13B
        layer_range: [20, 40]
merge_method: passthrough
dtype: float16
`;

describe('mergekit example configs', () => {
  it('parse', () => {
    for (const text of [gradientSlerp, ties, linear, frankenmerge])
      expect(() => parseMergeConfig(text)).not.toThrow();
  });

  it('gradient-slerp: t follows the filtered gradient across the 40 layers, fallback elsewhere', () => {
    const config = parseMergeConfig(gradientSlerp);
    const chain = [config.slices![0]!.parameters, config.parameters];
    const at = (name: string, layer: number) => resolveParameters(['t'], chain, name, layer / 39).t;
    expect(at('model.layers.0.self_attn.q_proj.weight', 0)).toBe(0);
    expect(at('model.layers.39.self_attn.q_proj.weight', 39)).toBe(1);
    expect(at('model.layers.39.mlp.up_proj.weight', 39)).toBe(0);
    // t = 13/39 = 1/3 → position 4/3 on [0, .5, .3, .7, 1] → 0.5 + (0.3 − 0.5)/3
    expect(at('model.layers.13.self_attn.k_proj.weight', 13)).toBeCloseTo(0.5 - 0.2 / 3, 12);
    expect(at('model.layers.13.input_layernorm.weight', 13)).toBe(0.5);
  });

  it('ties: model parameters fall back to the global ones, gradients and filters per model', () => {
    const config = parseMergeConfig(ties);
    const models = config.models!;
    const resolve = (index: number, name: string, t: number) =>
      resolveParameters(['weight', 'density'], [models[index]!.parameters, config.parameters], name, t);
    expect(resolve(0, 'model.layers.0.mlp.up_proj.weight', 0.5)).toEqual({ weight: 1, density: 0.7 });
    expect(resolve(1, 'model.layers.0.mlp.up_proj.weight', 1 / 3).weight).toBeCloseTo(0.3, 12);
    expect(resolve(2, 'model.layers.0.mlp.up_proj.weight', 0)).toEqual({ weight: 0.5, density: 0.33 });
    expect(resolve(2, 'model.layers.0.self_attn.o_proj.weight', 0)).toEqual({ weight: 0, density: 0.33 });
    expect(resolveParameters(['normalize', 'int8_mask', 'lambda'], [config.parameters], 'x', 0)).toEqual({
      normalize: true,
      int8_mask: true,
    });
  });

  it('gradients interpolate like numpy.interp over evenly spaced points', () => {
    expect(evaluateGradient([0, 1], 0.25)).toBe(0.25);
    expect(evaluateGradient([1, 0.7, 0.1], 0.75)).toBeCloseTo(0.4, 12);
    expect(evaluateGradient([3], 0.9)).toBe(3);
  });
});

describe('config errors name the YAML path and line', () => {
  const errorOf = (text: string) => {
    try {
      parseMergeConfig(text, { file: 'x.yml' });
    } catch (error) {
      return error as MergeConfigError;
    }
    throw new Error('expected an error');
  };

  it('unknown method', () => {
    const error = errorOf('models:\n  - model: a\nmerge_method: tie\n');
    expect(error).toBeInstanceOf(MergeConfigError);
    expect(error.path).toBe('merge_method');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/unknown merge method 'tie'.*ties/);
  });

  it('wrong value type deep in a slice', () => {
    const error = errorOf(
      'slices:\n  - sources:\n      - model: a\n        layer_range: [0, "x"]\nmerge_method: passthrough\n',
    );
    expect(error.path).toBe('slices[0].sources[0].layer_range[1]');
    expect(error.line).toBe(4);
  });

  it('both models and slices, unknown top-level key, missing base, union tokenizer', () => {
    expect(
      errorOf(
        'merge_method: linear\nmodels: [{model: a}]\nslices: [{sources: [{model: a, layer_range: [0, 1]}]}]\n',
      ).message,
    ).toMatch(/exactly one of/);
    expect(errorOf('merge_method: linear\nmodels: [{model: a}]\nmerge_mehtod: x\n').message).toMatch(
      /merge_mehtod/,
    );
    expect(errorOf('merge_method: ties\nmodels: [{model: a}]\n').message).toMatch(/needs a base_model/);
    expect(errorOf('merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: union\n').path).toBe(
      'tokenizer_source',
    );
  });

  it('YAML syntax errors carry the line', () => {
    const error = errorOf('merge_method: linear\nmodels:\n  - model: a\n   bad: [\n');
    expect(error.line).toBeGreaterThanOrEqual(3);
  });
});
