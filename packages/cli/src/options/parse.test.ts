import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UsageError } from '../command';
import { expectPositionals, parseCommandLine, splitList } from './parse';

const flags = {
  steps: { type: 'string' },
  stop: { type: 'string', multiple: true },
  quiet: { type: 'boolean' },
} as const;
const schema = z.object({
  steps: z.coerce.number().int().min(0).default(256),
  stop: z.array(z.string()).default([]),
  quiet: z.boolean().default(false),
});

describe('parseCommandLine', () => {
  it('parses, applies defaults and keeps positionals when allowed', () => {
    const parsed = parseCommandLine(
      ['in.bin', '--steps', '8', '--stop', 'a', '--stop', 'b', 'out'],
      flags,
      schema,
      {
        positionals: true,
      },
    );
    expect(parsed.options).toEqual({ steps: 8, stop: ['a', 'b'], quiet: false });
    expect(expectPositionals(parsed.positionals, ['SOURCE', 'OUT'])).toEqual(['in.bin', 'out']);
  });

  it('turns every kind of mistake into a UsageError that names the flag', () => {
    const usage = (argv: string[], positionals = false) => {
      try {
        parseCommandLine(argv, flags, schema, { positionals });
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      return 'no error';
    };
    expect(usage(['--stepz', '3'])).toBe('unknown flag --stepz');
    expect(usage(['--steps'])).toBe('--steps needs a value');
    expect(usage(['--steps', '-1'])).toMatch(/^--steps: /);
    expect(usage(['--steps', 'many'])).toMatch(/^--steps: /);
    expect(usage(['stray'])).toBe("unexpected argument 'stray'");
    expect(() => expectPositionals(['a'], ['SOURCE', 'OUT'])).toThrow('expected SOURCE and OUT');
    expect(() => splitList('a,,b', '--adapters')).toThrow(/--adapters: empty item/);
  });
});
