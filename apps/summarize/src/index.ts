export { main } from './cli';
export { type BookText, readBookText } from './gutenberg';
export type { CommandIO } from './io';
export { renderReport, renderSummaryHtml } from './report-html';
export { parseRunFlags, type RunFlags, runHelp } from './run-flags';
export { scoreHelp } from './score-command';
export type { JobUsage, ScoreReport } from './score-report';
