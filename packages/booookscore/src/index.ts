export {
  type AnnotationFile,
  isConfusing,
  parseAnnotationFile,
  parseSummaryFile,
  type SentenceAnnotation,
  type SummaryFile,
} from './annotation-file';
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
