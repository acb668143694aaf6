import { z } from 'zod';
import { defineKVPolicy } from '../policy';
import { selectKept } from '../selection';

/** StreamingLLM: the first `sinks` tokens (attention sinks) plus the most recent window. */
export const streamingLLMPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'streaming_llm',
  url: 'https://arxiv.org/abs/2309.17453',
  description:
    'Keep the first `sinks` tokens and the most recent ones (StreamingLLM; kvpress StreamingLLMPress).',
  parameters: z.object({ sinks: z.number().int().min(0).default(4) }).strict(),
  statistics: () => ({}),
  create: (parameters) => ({
    compressLayer({ stores, target }) {
      for (const store of stores) {
        if (store.length <= target) continue;
        store.retain(selectKept(store.length, target, undefined, parameters.sinks, target));
      }
    },
  }),
});
