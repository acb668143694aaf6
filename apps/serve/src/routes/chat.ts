// POST /v1/chat/completions: chat completions, non-streaming and SSE streaming.
import type { ServerResponse } from 'node:http';
import type { RouteContext } from '../context';
import { findModel } from '../context';
import type { ChatTurn } from '../engine';
import { badRequest, fromZodError } from '../errors';
import type { GenerationDelta } from '../generation-task';
import { SseWriter, sendJson } from '../http';
import { chatLogprobs } from '../logprobs';
import { type ChatMessageInput, chatRequestSchema } from '../schemas';
import {
  buildUsage,
  type ChoicePlan,
  checkMeldExtension,
  choiceSeed,
  resolveMaxTokens,
  runChoices,
  stopList,
} from './generate';
import { requestId, unixSeconds } from './ids';

/** OpenAI's message shapes to the template's turns: content parts joined, developer read as system. */
export function toChatTurns(messages: readonly ChatMessageInput[]): ChatTurn[] {
  return messages.map((message) => ({
    role: message.role === 'developer' ? 'system' : message.role,
    content:
      typeof message.content === 'string'
        ? message.content
        : message.content.map((part) => part.text).join(''),
  }));
}

export async function handleChatCompletions(
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const request = parsed.data;
  const model = findModel(context, request.model);
  const engine = model.engine;
  const { kvCache, longContext } = checkMeldExtension(engine, request.meld);
  if (longContext) {
    throw badRequest(
      'meld.long_context is served on /v1/completions (the prompt is the long text)',
      'meld.long_context',
      'not_implemented',
    );
  }

  const prompt = engine.encodeChat(toChatTurns(request.messages));
  const requested = request.max_completion_tokens ?? request.max_tokens;
  const maxTokens = resolveMaxTokens(context, model, prompt.length, requested, 'remaining', {
    prompt: 'messages',
    maxTokens: request.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
  });
  const n = request.n ?? 1;
  const wantLogprobs = request.logprobs === true;
  const choices: ChoicePlan[] = [];
  for (let index = 0; index < n; index++) {
    choices.push({
      index,
      prompt,
      maxTokens,
      sampling: {
        temperature: request.temperature ?? 1,
        topP: request.top_p ?? 1,
        seed: choiceSeed(request.seed, index),
        logprobs: wantLogprobs,
        topLogprobs: wantLogprobs ? (request.top_logprobs ?? 0) : 0,
      },
    });
  }
  context.metrics.countPromptTokens(prompt.length);

  const id = requestId('chatcmpl');
  const created = unixSeconds();
  const stop = stopList(request.stop);

  if (!request.stream) {
    const results = await runChoices(context, model, { choices, stop, kvCache, signal });
    for (const result of results) context.metrics.countCompletionTokens(result.completionTokens);
    sendJson(response, 200, {
      id,
      object: 'chat.completion',
      created,
      model: model.name,
      choices: results.map((result, index) => ({
        index,
        message: { role: 'assistant', content: result.text, refusal: null },
        logprobs: wantLogprobs ? chatLogprobs(engine, result.steps) : null,
        finish_reason: result.finishReason,
      })),
      usage: buildUsage(prompt.length, results, kvCache),
    });
    return;
  }

  const includeUsage = request.stream_options?.include_usage === true;
  const sse = new SseWriter(response);
  const chunk = (choices: unknown[]) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: model.name,
    choices,
    ...(includeUsage ? { usage: null } : {}),
  });
  const onDelta = (index: number, delta: GenerationDelta) => {
    context.metrics.countCompletionTokens(delta.steps.length);
    if (delta.text === '' && !wantLogprobs) return;
    sse.send(
      chunk([
        {
          index,
          delta: { content: delta.text },
          logprobs: wantLogprobs ? chatLogprobs(engine, delta.steps) : null,
          finish_reason: null,
        },
      ]),
    );
  };
  const done = runChoices(context, model, { choices, stop, kvCache, signal, onDelta });
  sse.open();
  for (const choice of choices) {
    sse.send(
      chunk([
        {
          index: choice.index,
          delta: { role: 'assistant', content: '' },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    );
  }
  const results = await done;
  results.forEach((result, index) => {
    sse.send(chunk([{ index, delta: {}, logprobs: null, finish_reason: result.finishReason }]));
  });
  if (includeUsage) {
    sse.send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: model.name,
      choices: [],
      usage: buildUsage(prompt.length, results, kvCache),
    });
  }
  sse.done();
}
