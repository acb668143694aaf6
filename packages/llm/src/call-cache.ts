// A persistent call cache in SQLite (better-sqlite3), keyed by model + input + parameters: a rerun,
// or a run resumed after a crash, answers every completed call from disk instead of repeating it.
// Each completed call is committed on its own (WAL journal), so a kill loses at most the calls in flight.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { LLMError } from './errors';
import type {
  FinishReason,
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
} from './language-model';

const schemaVersion = 1;

/** Canonical JSON: object keys sorted, undefined dropped, so equal requests give equal keys. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) sorted[key] = canonical(item);
    }
    return sorted;
  }
  return value;
}

export interface CacheKeyRequest {
  modelId: string;
  input: LanguageModelInput;
  parameters: GenerationParameters;
}

/** Canonical request text (the signal is not part of a request). */
export function cacheRequestText(request: CacheKeyRequest): string {
  const { signal: _signal, ...parameters } = request.parameters;
  const input = request.input.messages
    ? { messages: request.input.messages }
    : { prompt: request.input.prompt };
  return JSON.stringify(canonical({ version: schemaVersion, modelId: request.modelId, input, parameters }));
}

export function cacheKey(request: CacheKeyRequest): string {
  return createHash('sha256').update(cacheRequestText(request)).digest('hex');
}

export interface CachedCall extends GenerateResult {
  key: string;
  modelId: string;
  createdAt: string;
}

interface Row {
  key: string;
  model_id: string;
  text: string;
  finish_reason: FinishReason;
  prompt_tokens: number;
  completion_tokens: number;
  created_at: string;
}

export class CallCache {
  readonly path: string;
  readonly #database: Database.Database;
  readonly #get: Database.Statement<[string], Row>;
  readonly #put: Database.Statement<[Row & { request: string }]>;

  private constructor(path: string, database: Database.Database) {
    this.path = path;
    this.#database = database;
    this.#get = database.prepare(
      'SELECT key, model_id, text, finish_reason, prompt_tokens, completion_tokens, created_at FROM calls WHERE key = ?',
    );
    this.#put = database.prepare(
      `INSERT OR REPLACE INTO calls (key, model_id, request, text, finish_reason, prompt_tokens, completion_tokens, created_at)
       VALUES (@key, @model_id, @request, @text, @finish_reason, @prompt_tokens, @completion_tokens, @created_at)`,
    );
  }

  /** Opens (creating when needed) the cache file; ':memory:' gives a cache that lives as long as the process. */
  static open(path: string): CallCache {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      const database = new Database(path);
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.exec(`CREATE TABLE IF NOT EXISTS calls (
        key TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        request TEXT NOT NULL,
        text TEXT NOT NULL,
        finish_reason TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL
      )`);
      return new CallCache(path, database);
    } catch (error) {
      throw new LLMError('cache', `${path}: cannot open the call cache: ${error}`, { cause: error });
    }
  }

  get(key: string): CachedCall | undefined {
    const row = this.#get.get(key);
    if (!row) return undefined;
    return {
      key: row.key,
      modelId: row.model_id,
      text: row.text,
      finishReason: row.finish_reason,
      usage: { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens },
      createdAt: row.created_at,
    };
  }

  put(request: CacheKeyRequest, result: GenerateResult): string {
    const key = cacheKey(request);
    this.#put.run({
      key,
      model_id: request.modelId,
      request: cacheRequestText(request),
      text: result.text,
      finish_reason: result.finishReason,
      prompt_tokens: result.usage.promptTokens,
      completion_tokens: result.usage.completionTokens,
      created_at: new Date().toISOString(),
    });
    return key;
  }

  get size(): number {
    const row = this.#database.prepare('SELECT COUNT(*) AS count FROM calls').get() as { count: number };
    return row.count;
  }

  close(): void {
    this.#database.close();
  }
}
