import { ValidationError } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { CompressedKVCache } from './compressed-cache';
import { FullKVCache } from './full-cache';
import { parseKVParams, resolveKVOptions } from './options';
import { kvPolicies, kvPolicyNames } from './registry';

const shape = { layers: 2, kvHeads: 1, headDim: 4 };

describe('resolveKVOptions', () => {
  it('lists the snake_case policies of the issue, each with a URL and defaults that parse from {}', () => {
    expect(kvPolicyNames).toEqual([
      'full',
      'streaming_llm',
      'h2o',
      'tova',
      'snapkv',
      'cam',
      'kvmerger',
      'merge_on_evict',
    ]);
    for (const policy of kvPolicies) {
      expect(policy.specificationVersion).toBe('v1');
      expect(policy.url).toMatch(/^https:\/\//);
      expect(() => policy.parameters.parse({})).not.toThrow();
    }
  });

  it('builds a full cache for full and a compressed one otherwise', () => {
    expect(resolveKVOptions({}).createCache(shape)).toBeInstanceOf(FullKVCache);
    const resolved = resolveKVOptions({
      policy: 'kvmerger',
      budget: '35%',
      params: ['threshold=0.8', 'sigma=rms'],
    });
    expect(resolved.parameters).toMatchObject({ threshold: 0.8, sigma: 'rms', pivot: 'attention' });
    expect(resolved.budget).toEqual({ type: 'ratio', ratio: 0.35 });
    expect(resolved.createCache(shape)).toBeInstanceOf(CompressedKVCache);
  });

  it('names the offending field', () => {
    const field = (input: Parameters<typeof resolveKVOptions>[0]) => {
      try {
        resolveKVOptions(input);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).path;
      }
      return 'no error';
    };
    expect(field({ policy: 'nope', budget: '50%' })).toBe('policy');
    expect(field({ policy: 'h2o' })).toBe('budget');
    expect(field({ policy: 'h2o', budget: 'lots' })).toBe('budget');
    expect(field({ policy: 'kvmerger', budget: 0.5, params: { threshold: 7 } })).toBe('params.threshold');
    expect(field({ policy: 'snapkv', budget: 0.5, params: ['colour=red'] })).toBe('params');
    expect(field({ policy: 'h2o', budget: 0.5, compressEvery: -1 })).toBe('compressEvery');
  });

  it('parses key=value parameters', () => {
    expect(parseKVParams(['a=1', 'b=true', 'c=rms', 'd=-0.5'])).toEqual({ a: 1, b: true, c: 'rms', d: -0.5 });
    expect(() => parseKVParams(['novalue'])).toThrow(/key=value/);
  });
});
