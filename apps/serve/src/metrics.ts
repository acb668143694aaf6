// Server metrics in the Prometheus text exposition format (version 0.0.4).

const TOKEN_RATE_WINDOW_MS = 10_000;

export interface MetricsSources {
  queueLength(): number;
  activeSequences(): number;
  kvBytes(): number;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private promptTokens = 0;
  private completionTokens = 0;
  /** (time, tokens) of recent completion tokens, for a sliding-window rate. */
  private recent: Array<[number, number]> = [];
  private readonly sources: MetricsSources;

  constructor(sources: MetricsSources) {
    this.sources = sources;
  }

  countRequest(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  countPromptTokens(count: number): void {
    this.promptTokens += count;
  }

  countCompletionTokens(count: number): void {
    if (count <= 0) return;
    this.completionTokens += count;
    this.recent.push([performance.now(), count]);
  }

  /** Completion tokens per second over the last 10 s. */
  tokensPerSecond(): number {
    const now = performance.now();
    this.recent = this.recent.filter(([time]) => now - time <= TOKEN_RATE_WINDOW_MS);
    const tokens = this.recent.reduce((sum, [, count]) => sum + count, 0);
    return tokens / (TOKEN_RATE_WINDOW_MS / 1000);
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${value}`);
    };
    metric(
      'meld_requests_total',
      'counter',
      'HTTP requests served, by route and status.',
      [...this.requests.entries()].sort(),
    );
    metric('meld_prompt_tokens_total', 'counter', 'Prompt tokens processed.', [['', this.promptTokens]]);
    metric('meld_completion_tokens_total', 'counter', 'Completion tokens generated.', [
      ['', this.completionTokens],
    ]);
    metric('meld_tokens_per_second', 'gauge', 'Completion tokens per second over the last 10 seconds.', [
      ['', Number(this.tokensPerSecond().toFixed(3))],
    ]);
    metric('meld_queue_length', 'gauge', 'Sequences waiting for a decode slot.', [
      ['', this.sources.queueLength()],
    ]);
    metric('meld_active_sequences', 'gauge', 'Sequences being decoded.', [
      ['', this.sources.activeSequences()],
    ]);
    metric('meld_kv_cache_bytes', 'gauge', 'Bytes held by the KV caches of active sequences.', [
      ['', this.sources.kvBytes()],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
