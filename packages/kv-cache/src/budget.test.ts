import { ValidationError } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { budgetSlots, formatKVBudget, parseKVBudget } from './budget';

describe('parseKVBudget', () => {
  it('reads ratios, percentages and token counts', () => {
    expect(parseKVBudget('0.35')).toEqual({ type: 'ratio', ratio: 0.35 });
    expect(parseKVBudget('35%')).toEqual({ type: 'ratio', ratio: 0.35 });
    expect(parseKVBudget('100%')).toEqual({ type: 'ratio', ratio: 1 });
    expect(parseKVBudget('512')).toEqual({ type: 'tokens', tokens: 512 });
    expect(parseKVBudget(1)).toEqual({ type: 'tokens', tokens: 1 });
    expect(parseKVBudget(0.5)).toEqual({ type: 'ratio', ratio: 0.5 });
  });

  it('rejects nonsense with a ValidationError naming the field', () => {
    for (const bad of ['', 'abc', '0', '-3', '150%', '2.5']) {
      expect(() => parseKVBudget(bad, 'kvBudget')).toThrow(ValidationError);
      expect(() => parseKVBudget(bad, 'kvBudget')).toThrow(/kvBudget/);
    }
  });

  it('turns a budget into a slot count within [1, seen]', () => {
    expect(budgetSlots({ type: 'ratio', ratio: 0.35 }, 300)).toBe(105);
    expect(budgetSlots({ type: 'ratio', ratio: 0.5 }, 301)).toBe(150);
    expect(budgetSlots({ type: 'ratio', ratio: 1 }, 7)).toBe(7);
    expect(budgetSlots({ type: 'tokens', tokens: 64 }, 40)).toBe(40);
    expect(budgetSlots({ type: 'tokens', tokens: 64 }, 400)).toBe(64);
    expect(budgetSlots({ type: 'ratio', ratio: 0.01 }, 10)).toBe(1);
    expect(formatKVBudget({ type: 'ratio', ratio: 0.35 })).toBe('35%');
  });
});
