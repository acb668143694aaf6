export {
  type AnnotationFile,
  isConfusing,
  parseAnnotationFile,
  parseSummaryFile,
  type SentenceAnnotation,
  type SummaryFile,
} from './annotation-file';
export {
  type AnnotateOptions,
  annotateOptionsSchema,
  annotateSummary,
  type ConfusionType,
  confusionTypes,
  type ParsedAnswer,
  parseBatchAnswer,
  parseSentenceAnswer,
  type SummaryAnnotation,
} from './annotator';
export { type ChunkOptions, chunkOptionsSchema, chunkText } from './chunker';
export {
  estimateLevelLimits,
  type HierarchicalOptions,
  type HierarchicalResult,
  hierarchicalOptionsSchema,
  summarizeHierarchically,
} from './hierarchical';
export {
  type IncrementalOptions,
  type IncrementalResult,
  incrementalOptionsSchema,
  summarizeIncrementally,
} from './incremental';
export type { BooookScoreProgress, ProgressCallback } from './progress';
export { type BooookScorePrompts, bundledPromptsDirectory, loadPrompts } from './prompts';
export { formatTemplate, templatePlaceholders } from './python-format';
export { removeArtifacts } from './remove-artifacts';
export {
  type BookScore,
  type BooookScoreResult,
  computeBooookScore,
  type ScoreOptions,
  scoreBook,
} from './score';
export {
  defaultSentenceSplitter,
  intlSplitter,
  regexSplitter,
  type SentenceSplitterName,
  type SentenceSplitterV1,
  sentenceSplitters,
} from './sentence-splitter';
export { countWords, endsLikeSentence, roundHalfEven } from './summary-rules';
export { cl100kCounter, countCl100k, modelTokenCounter, type TokenCounterV1 } from './token-counter';
