// POST /tokenize and /detokenize, in vLLM's shapes (llama.cpp's `content` field accepted as well),
// so clients can count tokens with the model's own tokenizer.
import type { ServerResponse } from 'node:http';
import type { RouteContext } from '../context';
import { findModel } from '../context';
import { fromZodError } from '../errors';
import { sendJson } from '../http';
import { detokenizeRequestSchema, tokenizeRequestSchema } from '../schemas';
import { toChatTurns } from './chat';
import { checkTokenIds } from './generate';

export async function handleTokenize(
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
): Promise<void> {
  const parsed = tokenizeRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const request = parsed.data;
  const engine = findModel(context, request.model).engine;
  const tokens = request.messages
    ? engine.encodeChat(toChatTurns(request.messages))
    : engine.tokenize(request.prompt ?? request.content ?? '', {
        addSpecialTokens: request.add_special_tokens ?? true,
      });
  sendJson(response, 200, {
    count: tokens.length,
    max_model_len: engine.contextLength,
    tokens,
    ...(request.with_pieces ? { token_strs: tokens.map((token) => engine.tokenPiece(token)) } : {}),
  });
}

export async function handleDetokenize(
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
): Promise<void> {
  const parsed = detokenizeRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const engine = findModel(context, parsed.data.model).engine;
  checkTokenIds(engine, parsed.data.tokens, 'tokens');
  sendJson(response, 200, { prompt: engine.detokenize(parsed.data.tokens) });
}
