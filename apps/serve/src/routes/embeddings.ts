// POST /v1/embeddings: mean-pooled final hidden states, one forward pass per input, run through the
// scheduler like generation (one input per step) so embeddings share the decode slots fairly.
import type { ServerResponse } from 'node:http';
import type { RouteContext } from '../context';
import { findModel } from '../context';
import type { ServeEngineV1 } from '../engine';
import { badRequest, fromZodError } from '../errors';
import { sendJson } from '../http';
import type { SchedulerTask, TaskOutcome } from '../scheduler';
import { embeddingRequestSchema } from '../schemas';
import { checkTokenIds, submitTasks } from './generate';

class EmbeddingTask implements SchedulerTask {
  readonly signal: AbortSignal;
  readonly result: Promise<Float32Array[]>;
  private readonly engine: ServeEngineV1;
  private readonly inputs: number[][];
  private readonly vectors: Float32Array[] = [];
  private resolve!: (vectors: Float32Array[]) => void;
  private reject!: (error: unknown) => void;

  constructor(engine: ServeEngineV1, inputs: number[][], signal: AbortSignal) {
    this.engine = engine;
    this.inputs = inputs;
    this.signal = signal;
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.result.catch(() => {});
  }

  start(): void {}

  kvBytes(): number {
    return 0;
  }

  async step(): Promise<boolean> {
    const next = this.inputs[this.vectors.length];
    if (next === undefined) return true;
    this.vectors.push(await this.engine.embed(next));
    return this.vectors.length === this.inputs.length;
  }

  finish(outcome: TaskOutcome): void {
    if (outcome.kind === 'done') this.resolve(this.vectors);
    else if (outcome.kind === 'aborted') this.reject(this.signal.reason);
    else this.reject(outcome.error);
  }
}

export async function handleEmbeddings(
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const parsed = embeddingRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const request = parsed.data;
  const model = findModel(context, request.model);
  const engine = model.engine;

  const raw = request.input;
  let inputs: number[][];
  if (typeof raw === 'string') inputs = [engine.tokenize(raw, { addSpecialTokens: true })];
  else if (raw.every((item) => typeof item === 'string'))
    inputs = (raw as string[]).map((text) => engine.tokenize(text, { addSpecialTokens: true }));
  else if (raw.every((item) => typeof item === 'number')) inputs = [raw as number[]];
  else inputs = raw as number[][];
  inputs.forEach((tokens, index) => {
    const param = inputs.length === 1 ? 'input' : `input[${index}]`;
    checkTokenIds(engine, tokens, param);
    if (tokens.length === 0) throw badRequest(`${param}: empty input`, param);
    if (tokens.length > engine.contextLength) {
      throw badRequest(
        `${param}: ${tokens.length} tokens; this model's maximum context length is ${engine.contextLength}`,
        param,
        'context_length_exceeded',
      );
    }
  });
  const promptTokens = inputs.reduce((sum, tokens) => sum + tokens.length, 0);
  context.metrics.countPromptTokens(promptTokens);

  const task = new EmbeddingTask(engine, inputs, signal);
  submitTasks(context, [task]);
  const vectors = await task.result;
  const base64 = request.encoding_format === 'base64';
  sendJson(response, 200, {
    object: 'list',
    model: model.name,
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: base64
        ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
        : Array.from(vector),
    })),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
