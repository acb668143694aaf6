// Flag parsing shared by every command: node:util parseArgs (strict) followed by a zod schema.
// Whatever goes wrong becomes a UsageError that names the flag (exit code 2).
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { UsageError } from '../command';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
}

/** A command's flags, as node:util parseArgs takes them (without the leading `--`). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedCommandLine<T> {
  readonly options: T;
  readonly positionals: string[];
}

interface NodeError {
  code?: unknown;
  message: string;
}

/** parseArgs' messages, shortened to name the flag or argument. */
function usageFromParseArgs(error: NodeError): UsageError {
  const quoted = /'([^']+)'/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${quoted ?? error.message}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted ?? error.message}'`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted?.split(' ')[0];
      if (!flag) return new UsageError(error.message);
      return new UsageError(
        error.message.includes('argument missing') ? `${flag} needs a value` : `${flag}: ${error.message}`,
      );
    }
    default:
      return new UsageError(error.message);
  }
}

/** The first zod issue as `--flag: message` (the flag is not repeated when the message names it). */
export function usageFromZod(error: z.ZodError): UsageError {
  const issue = error.issues[0];
  if (!issue) return new UsageError('invalid flags');
  const flag = `--${issue.path.join('.')}`;
  return new UsageError(issue.message.startsWith(flag) ? issue.message : `${flag}: ${issue.message}`);
}

/** Validates already-parsed flag values with a zod schema; failures are UsageErrors naming the flag. */
export function validateFlags<T>(schema: z.ZodType<T>, values: unknown): T {
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw usageFromZod(parsed.error);
  return parsed.data;
}

/**
 * Parses argv against `flags` (unknown flags and missing values are UsageErrors), then validates
 * the values with `schema`. Positionals are allowed only when `positionals` is true.
 */
export function parseCommandLine<T>(
  argv: string[],
  flags: FlagSpecs,
  schema: z.ZodType<T>,
  settings: { positionals?: boolean } = {},
): ParsedCommandLine<T> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...flags },
      allowPositionals: settings.positionals ?? false,
      strict: true,
    });
  } catch (error) {
    throw usageFromParseArgs(error as NodeError);
  }
  return { options: validateFlags(schema, parsed.values), positionals: parsed.positionals };
}

/** Exactly `names.length` positionals, or a UsageError listing what is expected. */
export function expectPositionals<const Names extends readonly string[]>(
  positionals: readonly string[],
  names: Names,
): { [K in keyof Names]: string } {
  if (positionals.length !== names.length || positionals.some((p) => p === '')) {
    throw new UsageError(`expected ${names.join(' and ')}`);
  }
  return names.map((_, index) => positionals[index] ?? '') as { [K in keyof Names]: string };
}

/** A comma-separated flag value; empty items are a UsageError naming the flag. */
export function splitList(text: string | undefined, flag: string): string[] {
  if (!text) return [];
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`${flag}: empty item in '${text}'`);
  return items;
}
