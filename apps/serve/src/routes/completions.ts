// POST /v1/completions: OpenAI's legacy completions, non-streaming and SSE streaming.
import type { ServerResponse } from 'node:http';
import type { RouteContext } from '../context';
import { findModel } from '../context';
import type { PreparedLongContext } from '../engine';
import { badRequest, fromZodError } from '../errors';
import type { GenerationDelta } from '../generation-task';
import { SseWriter, sendJson } from '../http';
import { completionLogprobs } from '../logprobs';
import { completionRequestSchema } from '../schemas';
import {
  buildUsage,
  type ChoicePlan,
  checkMeldExtension,
  checkTokenIds,
  choiceSeed,
  resolveLongContextMaxTokens,
  resolveMaxTokens,
  runChoices,
  stopList,
} from './generate';
import { requestId, unixSeconds } from './ids';

const DEFAULT_MAX_TOKENS = 16; // OpenAI's default for /v1/completions

export async function handleCompletions(
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const parsed = completionRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const request = parsed.data;
  const model = findModel(context, request.model);
  const engine = model.engine;
  const { kvCache, longContext } = checkMeldExtension(engine, request.meld);

  // Normalise the four prompt forms to token lists (with their text, for echo).
  const raw = request.prompt;
  const prompts: Array<{ tokens: number[]; text: string; longContext?: PreparedLongContext }> = [];
  if (longContext && engine.longContext) {
    if (typeof raw !== 'string')
      throw badRequest('meld.long_context needs the prompt as one string', 'prompt');
    const prepared = engine.longContext.prepare({ method: 'homer', text: raw, ...longContext });
    if (prepared.inputTokens > context.limits.maxLongContextTokens) {
      throw badRequest(
        `prompt: ${prepared.inputTokens} tokens; meld.long_context reads at most ${context.limits.maxLongContextTokens} on this server`,
        'prompt',
        'context_length_exceeded',
      );
    }
    if (prepared.inputTokens > context.limits.maxLongContextTokens) {
      throw badRequest(
        `prompt: ${prepared.inputTokens} tokens; meld.long_context reads at most ${context.limits.maxLongContextTokens} on this server`,
        'prompt',
        'context_length_exceeded',
      );
    }
    prompts.push({ tokens: [], text: raw, longContext: prepared });
  } else if (typeof raw === 'string')
    prompts.push({ tokens: engine.tokenize(raw, { addSpecialTokens: true }), text: raw });
  else if (raw.every((item) => typeof item === 'string')) {
    for (const text of raw as string[])
      prompts.push({ tokens: engine.tokenize(text, { addSpecialTokens: true }), text });
  } else if (raw.every((item) => typeof item === 'number')) {
    const tokens = raw as number[];
    checkTokenIds(engine, tokens, 'prompt');
    prompts.push({ tokens, text: engine.detokenize(tokens) });
  } else {
    (raw as number[][]).forEach((tokens, index) => {
      checkTokenIds(engine, tokens, `prompt[${index}]`);
      prompts.push({ tokens, text: engine.detokenize(tokens) });
    });
  }

  const n = request.n ?? 1;
  const logprobs = request.logprobs ?? null;
  const choices: ChoicePlan[] = [];
  prompts.forEach((prompt, promptIndex) => {
    const maxTokens = prompt.longContext
      ? resolveLongContextMaxTokens(context, model, request.max_tokens, DEFAULT_MAX_TOKENS)
      : resolveMaxTokens(context, model, prompt.tokens.length, request.max_tokens, DEFAULT_MAX_TOKENS, {
          prompt: 'prompt',
          maxTokens: 'max_tokens',
        });
    for (let i = 0; i < n; i++) {
      choices.push({
        index: promptIndex * n + i,
        prompt: prompt.tokens,
        maxTokens,
        ...(prompt.longContext ? { longContext: prompt.longContext } : {}),
        sampling: {
          temperature: request.temperature ?? 1,
          topP: request.top_p ?? 1,
          seed: choiceSeed(request.seed, i),
          logprobs: logprobs !== null,
          topLogprobs: logprobs ?? 0,
        },
      });
    }
  });
  const promptTokens = prompts.reduce(
    (sum, prompt) => sum + (prompt.longContext?.inputTokens ?? prompt.tokens.length),
    0,
  );
  context.metrics.countPromptTokens(promptTokens);

  const id = requestId('cmpl');
  const created = unixSeconds();
  const echo = request.echo === true;
  const promptOf = (index: number) => prompts[Math.floor(index / n)]!;

  if (!request.stream) {
    const results = await runChoices(context, model, {
      choices,
      stop: stopList(request.stop),
      kvCache,
      signal,
    });
    for (const result of results) context.metrics.countCompletionTokens(result.completionTokens);
    sendJson(response, 200, {
      id,
      object: 'text_completion',
      created,
      model: model.name,
      choices: results.map((result, index) => {
        const prefix = echo ? promptOf(index).text : '';
        return {
          index,
          text: prefix + result.text,
          logprobs:
            logprobs === null ? null : completionLogprobs(engine, result.steps, prefix.length, logprobs > 0),
          finish_reason: result.finishReason,
        };
      }),
      usage: buildUsage(promptTokens, results, kvCache),
    });
    return;
  }

  const includeUsage = request.stream_options?.include_usage === true;
  const sse = new SseWriter(response);
  const offsets = choices.map((choice) => (echo ? promptOf(choice.index).text.length : 0));
  const chunk = (choices: unknown[]) => ({
    id,
    object: 'text_completion',
    created,
    model: model.name,
    choices,
    ...(includeUsage ? { usage: null } : {}),
  });
  const onDelta = (index: number, delta: GenerationDelta) => {
    context.metrics.countCompletionTokens(delta.steps.length);
    if (delta.text === '' && logprobs === null) return;
    const logprobBlock =
      logprobs === null ? null : completionLogprobs(engine, delta.steps, offsets[index]!, logprobs > 0);
    offsets[index]! += delta.text.length;
    sse.send(chunk([{ index, text: delta.text, logprobs: logprobBlock, finish_reason: null }]));
  };
  const done = runChoices(context, model, {
    choices,
    stop: stopList(request.stop),
    kvCache,
    signal,
    onDelta,
  });
  sse.open();
  if (echo) {
    for (const choice of choices) {
      sse.send(
        chunk([
          { index: choice.index, text: promptOf(choice.index).text, logprobs: null, finish_reason: null },
        ]),
      );
    }
  }
  const results = await done;
  results.forEach((result, index) => {
    sse.send(chunk([{ index, text: '', logprobs: null, finish_reason: result.finishReason }]));
  });
  if (includeUsage) {
    sse.send({
      id,
      object: 'text_completion',
      created,
      model: model.name,
      choices: [],
      usage: buildUsage(promptTokens, results, kvCache),
    });
  }
  sse.done();
}
