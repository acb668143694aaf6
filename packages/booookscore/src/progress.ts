// Progress events of the summarisation and annotation workflows (noun-verb, discriminated by `type`).
export type BooookScoreProgress =
  | { type: 'level-start'; level: number; inputs: number }
  | {
      type: 'summary-end';
      workflow: 'hierarchical' | 'incremental';
      level: number;
      index: number;
      total: number;
    }
  | { type: 'summary-retry'; level: number; attempt: number; wordLimit: number; reason: string }
  | { type: 'compress-start'; index: number; expectedWords: number }
  | { type: 'compress-end'; index: number; attempts: number; skipped: boolean }
  | { type: 'sentence-annotated'; index: number; total: number; confusing: boolean }
  | { type: 'annotation-requery'; sentence: string; attempt: number; reason: string };

export type ProgressCallback = (event: BooookScoreProgress) => void;
