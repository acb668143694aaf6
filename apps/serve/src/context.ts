// What every route handler gets: the loaded models, the scheduler, metrics and limits.
import type { ServeEngineV1 } from './engine';
import { HttpError } from './errors';
import type { Metrics } from './metrics';
import type { Scheduler } from './scheduler';

export interface ServedModel {
  /** The id clients send as `model`. */
  name: string;
  engine: ServeEngineV1;
  /** Unix seconds when the model was loaded. */
  created: number;
}

export interface ServeLimits {
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Largest max_tokens a request may ask for (per choice). */
  maxTokens: number;
  /** Largest input meld.long_context reads, in tokens. */
  maxLongContextTokens: number;
}

export interface RouteContext {
  models: ReadonlyMap<string, ServedModel>;
  scheduler: Scheduler;
  metrics: Metrics;
  limits: ServeLimits;
}

export function findModel(context: RouteContext, name: string): ServedModel {
  const model = context.models.get(name);
  if (!model) {
    throw new HttpError(404, 'invalid_request_error', `The model \`${name}\` does not exist`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
  return model;
}
