// meld inspect: what a model file holds (format, metadata, tensor table) without loading it.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import {
  FormatError,
  type GgufValue,
  ggufPlainValue,
  openGguf,
  openSafetensorsModel,
  readLlama2c,
} from '@meld/tensor-core';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { expectPositionals, parseCommandLine } from '../options/parse';

const help = `meld inspect FILE [--json] [--full]

Shows what a model file holds without loading its weights: the format, its metadata and a table
of tensors (name, dtype, shape; shapes row-major, outermost first).

FILE may be:
  a .safetensors file, a model.safetensors.index.json, or a folder holding either (sharded models)
  a GGUF file (v2 or v3)
  a llama2.c checkpoint (.bin; its header fields are the metadata, tensors get Hugging Face names)

Options:
  --json    (default off) print one JSON object: {"format": "safetensors"|"gguf"|"llama2c", "metadata": {...},
            "tensors": [{"name", "dtype", "shape"}]}; dtypes are lowercase (f32, bf16, q8_0, ...),
            64-bit integers above 2^53 are strings
  --full    (default off) print metadata arrays whole (by default arrays longer than 64 items are summarised as
            {"type", "length"})
  --help    this text

Example:
  meld inspect stories260K.gguf --json
`;

const flags = { json: { type: 'boolean' }, full: { type: 'boolean' } } as const;

const optionsSchema = z.object({
  json: z.boolean().default(false),
  full: z.boolean().default(false),
});

export type InspectFormat = 'safetensors' | 'gguf' | 'llama2c';

export interface InspectReport {
  readonly format: InspectFormat;
  /** Extra facts shown in the text view only (GGUF version, alignment, sharding). */
  readonly details: readonly string[];
  readonly metadata: Record<string, unknown>;
  readonly tensors: { name: string; dtype: string; shape: number[] }[];
}

const arrayLimit = 64;

/** JSON-safe metadata value: bigint -> string, long arrays summarised unless `full`. */
function ggufJsonValue(value: GgufValue, full: boolean): unknown {
  if (value.type !== 'array') return typeof value.value === 'bigint' ? value.value.toString() : value.value;
  if (!full && value.value.length > arrayLimit)
    return { type: value.elementType, length: value.value.length };
  if (value.elementType === 'array')
    return (value.value as readonly GgufValue[]).map((v) => ggufJsonValue(v, full));
  return (ggufPlainValue(value) as unknown[]).map((v) => (typeof v === 'bigint' ? v.toString() : v));
}

function sniff(path: string): InspectFormat {
  if (!existsSync(path)) throw new FormatError(path, 'file', 'does not exist');
  if (statSync(path).isDirectory() || path.endsWith('.safetensors') || path.endsWith('.index.json'))
    return 'safetensors';
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(9);
  const read = readSync(fd, head, 0, 9, 0);
  closeSync(fd);
  if (read >= 4 && head.toString('latin1', 0, 4) === 'GGUF') return 'gguf';
  if (read === 9 && head[8] === 0x7b && head.readBigUInt64LE(0) < BigInt(statSync(path).size))
    return 'safetensors';
  return 'llama2c';
}

/** Reads the format, metadata and tensor table of a model file or folder. */
export function inspectModel(path: string, options: { full?: boolean } = {}): InspectReport {
  const format = sniff(path);
  if (format === 'safetensors') {
    const model = openSafetensorsModel(path);
    try {
      return {
        format,
        details: model.files.length > 1 ? [`${model.files.length} shards`] : [],
        metadata: { ...model.metadata },
        tensors: model.tensors.map((t) => ({
          name: t.name,
          dtype: t.dtype.toLowerCase(),
          shape: [...t.shape],
        })),
      };
    } finally {
      model.close();
    }
  }
  if (format === 'gguf') {
    const file = openGguf(path);
    try {
      const metadata: Record<string, unknown> = {};
      for (const [key, value] of file.metadata) metadata[key] = ggufJsonValue(value, options.full ?? false);
      return {
        format,
        details: [`GGUF v${file.version}`, `alignment ${file.alignment}`],
        metadata,
        tensors: file.tensors.map((t) => ({
          name: t.name,
          dtype: t.type.toLowerCase(),
          shape: [...t.shape],
        })),
      };
    } finally {
      file.close();
    }
  }
  const checkpoint = readLlama2c(new Uint8Array(readFileSync(path)), path);
  const h = checkpoint.header;
  return {
    format,
    details: ['llama2.c v0 checkpoint (legacy run.c format)'],
    metadata: {
      dim: h.dim,
      hidden_dim: h.hiddenDim,
      n_layers: h.layers,
      n_heads: h.heads,
      n_kv_heads: h.kvHeads,
      vocab_size: h.vocabSize,
      seq_len: h.seqLen,
      shared_classifier: h.sharedClassifier,
    },
    tensors: [...checkpoint.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] })),
  };
}

function textValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(textValue).join(', ')}]`;
  if (typeof value === 'object' && value !== null && 'length' in value && 'type' in value) {
    return `[${String(value.type)} × ${String(value.length)}]`;
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function formatText(path: string, report: InspectReport): string {
  const lines = [
    `${path}`,
    `format: ${report.format}${report.details.length ? ` (${report.details.join(', ')})` : ''}`,
  ];
  const keys = Object.keys(report.metadata);
  lines.push(`metadata (${keys.length}):`);
  for (const key of keys) lines.push(`  ${key} = ${textValue(report.metadata[key])}`);
  let parameters = 0;
  for (const t of report.tensors) parameters += t.shape.reduce((a, b) => a * b, 1);
  lines.push(`tensors (${report.tensors.length}, ${parameters.toLocaleString('en-US')} parameters):`);
  const nameWidth = Math.max(4, ...report.tensors.map((t) => t.name.length));
  const typeWidth = Math.max(5, ...report.tensors.map((t) => t.dtype.length));
  lines.push(`  ${'name'.padEnd(nameWidth)}  ${'dtype'.padEnd(typeWidth)}  shape`);
  for (const t of report.tensors)
    lines.push(`  ${t.name.padEnd(nameWidth)}  ${t.dtype.padEnd(typeWidth)}  [${t.shape.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [file] = expectPositionals(parsed.positionals, ['FILE']);
  const report = inspectModel(file, { full: parsed.options.full });
  if (parsed.options.json) {
    const { format, metadata, tensors } = report;
    io.stdout.write(
      `${JSON.stringify({ format, metadata, tensors }, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
    );
  } else {
    io.stdout.write(formatText(file, report));
  }
  return 0;
}

export const inspectCommand: Command = {
  name: ['inspect'],
  summary: 'show the format, metadata and tensors of a safetensors, GGUF or llama2.c model',
  help,
  flags,
  run,
};
