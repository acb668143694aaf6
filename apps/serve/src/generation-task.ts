// One choice of a completion as a scheduler task: decodes tokens, turns them into text incrementally
// (holding back anything that could still become a stop string), enforces max_tokens and reports the
// peak KV bytes its cache held.
import type { EngineSequence, LongContextStats, ServeEngineV1, TokenDecoder, TokenStep } from './engine';
import type { SchedulerTask, TaskOutcome } from './scheduler';

export type FinishReason = 'stop' | 'length';

/** Text released since the previous delta, with the steps decoded since then. */
export interface GenerationDelta {
  text: string;
  steps: TokenStep[];
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  steps: TokenStep[];
  completionTokens: number;
  peakKvBytes: number;
  longContext?: LongContextStats;
}

export interface GenerationTaskOptions {
  engine: ServeEngineV1;
  /** Creates the sequence (and its KV cache) once the scheduler gives the task a slot. */
  startSequence: () => EngineSequence;
  /** The input's last token, after which the completion is decoded (undefined: none). */
  lastInputToken: number | undefined;
  maxTokens: number;
  stop: readonly string[];
  signal?: AbortSignal;
  onDelta?: (delta: GenerationDelta) => void;
}

export class GenerationTask implements SchedulerTask {
  readonly signal?: AbortSignal;
  readonly result: Promise<GenerationResult>;
  private readonly options: GenerationTaskOptions;
  private readonly decoder: TokenDecoder;
  private readonly longestStop: number;
  private sequence: EngineSequence | undefined;
  private readonly tokens: number[] = [];
  private readonly steps: TokenStep[] = [];
  private pendingSteps: TokenStep[] = [];
  private text = '';
  private released = 0;
  private finishReason: FinishReason = 'length';
  private peak = 0;
  private longContext: LongContextStats | undefined;
  private resolveResult!: (result: GenerationResult) => void;
  private rejectResult!: (error: unknown) => void;

  constructor(options: GenerationTaskOptions) {
    this.options = options;
    this.signal = options.signal;
    this.decoder = options.engine.createDecoder(options.lastInputToken);
    this.longestStop = options.stop.reduce((longest, stop) => Math.max(longest, stop.length), 0);
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // Callers await `result`; keep an unobserved rejection from crashing the process meanwhile.
    this.result.catch(() => {});
  }

  start(): void {
    if (this.options.maxTokens === 0) return;
    this.sequence = this.options.startSequence();
  }

  kvBytes(): number {
    return this.sequence?.kvBytes() ?? 0;
  }

  async step(): Promise<boolean> {
    if (!this.sequence || this.tokens.length >= this.options.maxTokens) return this.end('length');
    const step = await this.sequence.next();
    if (step === null) return this.end('stop');
    this.tokens.push(step.token);
    this.steps.push(step);
    this.pendingSteps.push(step);
    this.text += this.decoder.push(step.token);

    const stopAt = this.findStop();
    if (stopAt >= 0) {
      this.text = this.text.slice(0, stopAt);
      this.finishReason = 'stop';
      this.release(this.text.length);
      return true;
    }
    if (this.tokens.length >= this.options.maxTokens) return this.end('length');
    this.release(this.safeLength());
    return false;
  }

  /** Ends with `reason`: flushes the decoder, applies stop strings to the tail, releases the rest. */
  private end(reason: FinishReason): true {
    this.finishReason = reason;
    this.text += this.decoder.flush();
    const stopAt = this.findStop();
    if (stopAt >= 0) {
      this.text = this.text.slice(0, stopAt);
      this.finishReason = 'stop';
    }
    this.release(this.text.length);
    return true;
  }

  finish(outcome: TaskOutcome): void {
    if (this.sequence) {
      this.peak = this.sequence.peakKvBytes();
      this.longContext = this.sequence.longContext?.();
      this.sequence.close();
    }
    if (outcome.kind === 'done') {
      this.resolveResult({
        text: this.text,
        finishReason: this.finishReason,
        steps: this.steps,
        completionTokens: this.tokens.length,
        peakKvBytes: this.peak,
        ...(this.longContext ? { longContext: this.longContext } : {}),
      });
    } else if (outcome.kind === 'aborted') {
      this.rejectResult(this.signal?.reason ?? new Error('aborted'));
    } else {
      this.rejectResult(outcome.error);
    }
  }

  /** Index of the earliest stop string in the text, or -1. */
  private findStop(): number {
    if (this.longestStop === 0) return -1;
    const from = Math.max(0, this.released - this.longestStop);
    let earliest = -1;
    for (const stop of this.options.stop) {
      const index = this.text.indexOf(stop, from);
      if (index >= 0 && (earliest < 0 || index < earliest)) earliest = index;
    }
    return earliest;
  }

  /** Length of text that can no longer change: everything but a suffix that could start a stop string. */
  private safeLength(): number {
    let safe = this.text.length;
    for (const stop of this.options.stop) {
      for (let keep = Math.min(stop.length - 1, safe); keep > 0; keep--) {
        if (this.text.endsWith(stop.slice(0, keep)) && this.text.length - keep < safe) {
          safe = this.text.length - keep;
          break;
        }
      }
    }
    return Math.max(safe, this.released);
  }

  private release(upTo: number): void {
    if (upTo <= this.released && this.pendingSteps.length === 0) return;
    const text = this.text.slice(this.released, Math.max(upTo, this.released));
    if (text === '' && upTo < this.text.length) return; // wait until text can go out with its steps
    this.released = Math.max(upTo, this.released);
    const steps = this.pendingSteps;
    this.pendingSteps = [];
    this.options.onDelta?.({ text, steps });
  }
}
