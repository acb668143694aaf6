// Parsing merge configs from YAML with errors that point at the YAML path and line.
import { readFileSync } from 'node:fs';
import { ValidationError } from '@meld/tensor-core';
import { type Document, isNode, LineCounter, parseDocument } from 'yaml';
import type { MergeMethodRegistry } from '../registry';
import { defaultMergeMethods } from '../registry';
import { type MergeConfig, mergeConfigSchema } from './schema';

/** A config error with its location in the YAML file. */
export class MergeConfigError extends ValidationError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(file: string, path: string, message: string, line?: number, column?: number) {
    super(path, `${message} (${file}${line !== undefined ? `:${line}:${column ?? 1}` : ''})`);
    this.name = 'MergeConfigError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

function locate(
  document: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
): { line: number; col: number } | undefined {
  // walk down as far as the path exists; point at the deepest node found
  for (let depth = path.length; depth >= 0; depth--) {
    const node =
      depth === 0 ? document.contents : document.getIn(path.slice(0, depth) as (string | number)[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]);
  }
  return undefined;
}

export interface ParseMergeConfigOptions {
  /** Shown in errors (default 'merge config'). */
  file?: string;
  registry?: MergeMethodRegistry;
}

/** Parses and validates YAML text: schema, method name, and every parameter name and value. */
export function parseMergeConfig(text: string, options: ParseMergeConfigOptions = {}): MergeConfig {
  const file = options.file ?? 'merge config';
  const registry = options.registry ?? defaultMergeMethods;
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const position = error.linePos?.[0];
    throw new MergeConfigError(file, '(yaml)', error.message.split('\n')[0]!, position?.line, position?.col);
  }
  const fail = (path: readonly PropertyKey[], message: string): never => {
    const position = locate(document, lines, path);
    throw new MergeConfigError(file, formatPath(path), message, position?.line, position?.col);
  };
  const result = mergeConfigSchema.safeParse(document.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    fail(issue.path, issue.message);
  }
  const config = result.data!;
  const methodNames = [
    config.merge_method,
    ...(config.slices ?? []).map((s) => s.merge_method ?? config.merge_method),
  ];
  for (const [index, name] of methodNames.entries()) {
    if (!registry.has(name)) {
      fail(
        index === 0 ? ['merge_method'] : ['slices', index - 1, 'merge_method'],
        `unknown merge method '${name}'; known: ${registry.names.join(', ')}`,
      );
    }
  }
  const method = registry.get(config.merge_method);
  const known = new Set([
    ...Object.keys(method.parameters.shape),
    ...Object.keys(method.modelParameters.shape),
  ]);
  const checkNames = (parameters: Record<string, unknown> | undefined, path: PropertyKey[]) => {
    for (const name of Object.keys(parameters ?? {})) {
      if (!known.has(name)) {
        fail(
          [...path, name],
          `'${name}' is not a parameter of ${method.name}; it takes ${[...known].join(', ') || 'none'}`,
        );
      }
    }
  };
  checkNames(config.parameters, ['parameters']);
  for (const [index, model] of (config.models ?? []).entries())
    checkNames(model.parameters, ['models', index, 'parameters']);
  for (const [index, slice] of (config.slices ?? []).entries()) {
    checkNames(slice.parameters, ['slices', index, 'parameters']);
    for (const [sourceIndex, source] of slice.sources.entries()) {
      checkNames(source.parameters, ['slices', index, 'sources', sourceIndex, 'parameters']);
    }
  }
  if (
    method.base === 'required' &&
    config.base_model === undefined &&
    !config.slices?.every((s) => s.base_model)
  ) {
    fail(['merge_method'], `${method.name} needs a base_model`);
  }
  const tokenizerSource = config.tokenizer?.source ?? config.tokenizer_source;
  if (tokenizerSource === 'union') {
    fail(
      [config.tokenizer ? 'tokenizer' : 'tokenizer_source'],
      "tokenizer source 'union' is not supported; use 'base' or a model path",
    );
  }
  return config;
}

/** Reads and parses a YAML config file. */
export function readMergeConfig(
  path: string,
  options: Omit<ParseMergeConfigOptions, 'file'> = {},
): MergeConfig {
  return parseMergeConfig(readFileSync(path, 'utf8'), { ...options, file: path });
}
