// The KV-cache policy contract: a policy is a declaration (name, paper URL, zod schema of parameters
// with the papers' defaults) whose compressor rewrites the stores of one layer down to a slot budget.
import type { z } from 'zod';
import type { KVHeadStore, KVStatisticsOptions } from './head-store';

/** What a compressor gets for one layer. */
export interface KVLayerCompression {
  readonly layer: number;
  /** The layer's KV heads, each compressed to at most `target` slots. */
  readonly stores: readonly KVHeadStore[];
  readonly target: number;
  /** 'prefill': the prompt right after prefill; 'decode': keeping the cache within budget while decoding. */
  readonly phase: 'prefill' | 'decode';
  /** Seeded uniform [0, 1) draws for stochastic rules (CaM's Bernoulli merge). */
  readonly random: () => number;
}

export interface KVCompressorV1 {
  /** Reduce every store of the layer to at most `target` slots; positions of kept slots are unchanged. */
  compressLayer(compression: KVLayerCompression): void;
}

export interface KVPolicyV1<Schema extends z.ZodType = z.ZodType> {
  readonly specificationVersion: 'v1';
  /** snake_case name used by the CLI, HTTP bodies and the registry. */
  readonly name: string;
  /** The paper or reference implementation the rule follows. */
  readonly url: string;
  readonly description: string;
  /** Parameters with the papers' defaults; `parameters.parse({})` gives the defaults. */
  readonly parameters: Schema;
  /** Per-slot statistics the policy reads (each costs 4 bytes per slot, counted in bytes()). */
  statistics(parameters: z.infer<Schema>): KVStatisticsOptions;
  create(parameters: z.infer<Schema>): KVCompressorV1;
}

/** Identity helper that keeps a declaration's parameter type. */
export function defineKVPolicy<Schema extends z.ZodType>(policy: KVPolicyV1<Schema>): KVPolicyV1<Schema> {
  return policy;
}
