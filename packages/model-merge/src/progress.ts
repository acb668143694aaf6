// Progress events of a merge (a discriminated union; apps turn them into bars and logs).
export type MergeProgressEvent =
  | { type: 'plan-ready'; tensors: number; inputBytes: number }
  | { type: 'tensor-start'; name: string; index: number; total: number }
  | {
      type: 'tensor-end';
      name: string;
      index: number;
      total: number;
      /** Input bytes read so far (all tasks up to this one). */
      inputBytesDone: number;
      inputBytesTotal: number;
      outputBytes: number;
    }
  | { type: 'write-finished'; files: readonly string[] }
  | { type: 'merge-finished'; outputDir: string };

export type MergeProgressCallback = (event: MergeProgressEvent) => void;
