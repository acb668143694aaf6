// The policy registry: names map to declarations. Nothing registers itself on import.
import { ValidationError } from '@meld/tensor-core';
import { camPolicy } from './policies/cam';
import { fullPolicy } from './policies/full';
import { h2oPolicy } from './policies/h2o';
import { kvMergerPolicy } from './policies/kvmerger';
import { mergeOnEvictPolicy } from './policies/merge-on-evict';
import { snapKVPolicy } from './policies/snapkv';
import { streamingLLMPolicy } from './policies/streaming-llm';
import { tovaPolicy } from './policies/tova';
import type { KVPolicyV1 } from './policy';

export const kvPolicies: readonly KVPolicyV1[] = [
  fullPolicy,
  streamingLLMPolicy,
  h2oPolicy,
  tovaPolicy,
  snapKVPolicy,
  camPolicy,
  kvMergerPolicy,
  mergeOnEvictPolicy,
];

export const kvPolicyNames: readonly string[] = kvPolicies.map((policy) => policy.name);

/** The declaration called `name`; a ValidationError on `field` lists the known names otherwise. */
export function getKVPolicy(name: string, field = 'policy'): KVPolicyV1 {
  const policy = kvPolicies.find((candidate) => candidate.name === name);
  if (policy === undefined) {
    throw new ValidationError(field, `unknown KV policy "${name}"; known: ${kvPolicyNames.join(', ')}`);
  }
  return policy;
}
