// Row workers: worker_threads that split a large tensor's rows between them. Inputs and output live in
// SharedArrayBuffers (the main thread reads the inputs into them and writes the output shard); each
// worker runs the same fused per-chunk kernels as the single-threaded path (their source is the very
// functions of tensor-view.ts and tensor-core, not a copy), so the output bytes are identical.
// mergeModels stays synchronous: the main thread posts one job per worker and blocks in Atomics.wait
// until every worker has counted itself done; errors come back through a port polled synchronously.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { bf16ToF32Table, encodeBf16Into, encodeF16Into, f16ToF32Table, MeldError } from '@meld/tensor-core';
import { addScaled, addScaledWords, type RawElements, setScaled, setScaledWords } from './tensor-view';

export class RowWorkerError extends MeldError {
  constructor(message: string) {
    super('row-worker', message);
    this.name = 'RowWorkerError';
  }
}

interface SharedArrayRef {
  readonly dtype: 'bf16' | 'f16' | 'f32';
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
}

/** out = Σ terms[i].coefficient · input (the first term assigned as 0 + c·x unless zeroFill), encoded. */
export interface CombineJob {
  readonly inputs: readonly RawElements[];
  readonly coefficients: readonly number[];
  /** When true, the chunk buffer is zero-filled and every term accumulates (a combination without models). */
  readonly zeroFill: boolean;
  readonly output: RawElements;
  readonly rowLength: number;
  readonly rowCount: number;
  readonly chunkElements: number;
}

function sharedRef(elements: RawElements): SharedArrayRef | undefined {
  const { buffer, byteOffset, length } = elements.array;
  if (!(buffer instanceof SharedArrayBuffer)) return undefined;
  return { dtype: elements.dtype, buffer, byteOffset, length };
}

/** The body of every worker (plain JS once compiled: it refers to nothing outside its parameters). */
function workerMain(
  port: MessagePort,
  tables: { bf16: Float32Array; f16: Float32Array },
  control: Int32Array,
  kernels: {
    setScaled: (out: Float32Array, c: number, x: Float32Array, start: number) => void;
    addScaled: (out: Float32Array, c: number, x: Float32Array, start: number) => void;
    setScaledWords: (o: Float32Array, c: number, w: Uint16Array, s: number, t: Float32Array) => void;
    addScaledWords: (o: Float32Array, c: number, w: Uint16Array, s: number, t: Float32Array) => void;
    encodeBf16Into: (values: Float32Array, words: Uint16Array) => Uint16Array;
    encodeF16Into: (values: Float32Array, words: Uint16Array) => Uint16Array;
  },
  errors: MessagePort,
): void {
  let chunk = new Float32Array(0);
  const open = (ref: SharedArrayRef): Uint16Array | Float32Array =>
    ref.dtype === 'f32'
      ? new Float32Array(ref.buffer, ref.byteOffset, ref.length)
      : new Uint16Array(ref.buffer, ref.byteOffset, ref.length);
  port.on(
    'message',
    (job: {
      inputs: SharedArrayRef[];
      coefficients: number[];
      zeroFill: boolean;
      output: SharedArrayRef;
      rowLength: number;
      rowStart: number;
      rowEnd: number;
      chunkElements: number;
    }) => {
      try {
        const inputs = job.inputs.map(open);
        const output = open(job.output);
        const rowLength = job.rowLength;
        const rowsPerChunk = Math.max(1, Math.floor(job.chunkElements / Math.max(1, rowLength)));
        if (chunk.length < rowsPerChunk * rowLength) chunk = new Float32Array(rowsPerChunk * rowLength);
        for (let rowStart = job.rowStart; rowStart < job.rowEnd; rowStart += rowsPerChunk) {
          const rowEnd = Math.min(job.rowEnd, rowStart + rowsPerChunk);
          const start = rowStart * rowLength;
          const out = chunk.subarray(0, (rowEnd - rowStart) * rowLength);
          if (job.zeroFill) out.fill(0);
          for (let index = 0; index < inputs.length; index++) {
            const first = index === 0 && !job.zeroFill;
            const c = job.coefficients[index] as number;
            const ref = job.inputs[index] as SharedArrayRef;
            const input = inputs[index] as Uint16Array | Float32Array;
            if (ref.dtype === 'f32') {
              if (first) kernels.setScaled(out, c, input as Float32Array, start);
              else kernels.addScaled(out, c, input as Float32Array, start);
            } else {
              const table = ref.dtype === 'bf16' ? tables.bf16 : tables.f16;
              if (first) kernels.setScaledWords(out, c, input as Uint16Array, start, table);
              else kernels.addScaledWords(out, c, input as Uint16Array, start, table);
            }
          }
          if (job.output.dtype === 'f32') (output as Float32Array).set(out, start);
          else {
            const words = (output as Uint16Array).subarray(start, start + out.length);
            if (job.output.dtype === 'bf16') kernels.encodeBf16Into(out, words);
            else kernels.encodeF16Into(out, words);
          }
        }
      } catch (error) {
        errors.postMessage(String(error instanceof Error ? (error.stack ?? error.message) : error));
        Atomics.store(control, 1, 1);
      }
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
    },
  );
}

function workerSource(): string {
  const kernels = { setScaled, addScaled, setScaledWords, addScaledWords, encodeBf16Into, encodeF16Into };
  const entries = Object.entries(kernels).map(([name, f]) => `${name}: (${f.toString()})`);
  return [
    "const { workerData } = require('node:worker_threads');",
    `const kernels = { ${entries.join(',\n')} };`,
    `(${workerMain.toString()})(workerData.port, { bf16: new Float32Array(workerData.bf16), f16: new Float32Array(workerData.f16) }, new Int32Array(workerData.control), kernels, workerData.errors);`,
  ].join('\n');
}

function sharedCopy(values: Float32Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(values.byteLength);
  new Float32Array(buffer).set(values);
  return buffer;
}

/** Waits this long without any worker finishing before giving up (a worker that never started). */
const stallMilliseconds = 120_000;

/** A fixed set of row workers, started on first use; `close()` terminates them (call it in finally). */
export class RowWorkerPool {
  private workers: Worker[] = [];
  private ports: MessagePort[] = [];
  private errorPorts: MessagePort[] = [];
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  /** Jobs run on the workers so far (one per large tensor). */
  jobs = 0;

  constructor(readonly threads: number) {}

  /** Whether a job over these elements can run here (all of them in SharedArrayBuffers). */
  accepts(inputs: readonly (RawElements | undefined)[], output: RawElements | undefined): boolean {
    return (
      this.threads > 1 &&
      output !== undefined &&
      sharedRef(output) !== undefined &&
      inputs.every((input) => input !== undefined && sharedRef(input) !== undefined)
    );
  }

  private start(): void {
    if (this.workers.length > 0) return;
    const source = workerSource();
    const bf16 = sharedCopy(bf16ToF32Table());
    const f16 = sharedCopy(f16ToF32Table());
    for (let index = 0; index < this.threads; index++) {
      const channel = new MessageChannel();
      const errors = new MessageChannel();
      const worker = new Worker(source, {
        eval: true,
        workerData: { port: channel.port2, bf16, f16, control: this.control.buffer, errors: errors.port2 },
        transferList: [channel.port2, errors.port2],
      });
      worker.unref();
      this.workers.push(worker);
      this.ports.push(channel.port1);
      this.errorPorts.push(errors.port1);
    }
  }

  /** Runs a combination over the workers, row ranges split evenly; returns when all are done. */
  combine(job: CombineJob): void {
    this.start();
    this.jobs++;
    const inputs = job.inputs.map((input) => sharedRef(input)!);
    const output = sharedRef(job.output)!;
    const count = Math.min(this.workers.length, Math.max(1, job.rowCount));
    Atomics.store(this.control, 0, 0);
    Atomics.store(this.control, 1, 0);
    for (let index = 0; index < count; index++) {
      this.ports[index]!.postMessage({
        inputs,
        coefficients: job.coefficients,
        zeroFill: job.zeroFill,
        output,
        rowLength: job.rowLength,
        rowStart: Math.floor((job.rowCount * index) / count),
        rowEnd: Math.floor((job.rowCount * (index + 1)) / count),
        chunkElements: job.chunkElements,
      });
    }
    let waited = 0;
    for (;;) {
      const done = Atomics.load(this.control, 0);
      if (done >= count) break;
      if (Atomics.wait(this.control, 0, done, 100) === 'timed-out') waited += 100;
      else waited = 0;
      if (waited >= stallMilliseconds)
        throw new RowWorkerError(`row workers made no progress for ${waited} ms`);
    }
    if (Atomics.load(this.control, 1) !== 0) {
      const message = this.errorPorts.map((port) => receiveMessageOnPort(port)?.message).find(Boolean);
      throw new RowWorkerError(`row worker failed: ${String(message ?? 'unknown error')}`);
    }
  }

  /** Terminates the workers (safe to call more than once). */
  close(): void {
    for (const port of this.ports) port.close();
    for (const port of this.errorPorts) port.close();
    for (const worker of this.workers) void worker.terminate();
    this.workers = [];
    this.ports = [];
    this.errorPorts = [];
  }
}
