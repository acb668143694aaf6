// Writes a data check's outputs: the cleaned JSONL (kept lines, verbatim), report.json and report.md.
import { join } from 'node:path';
import { writeFileAtomically } from '../atomic-write';
import type { DataCheckReport } from './data-check';

export interface DataCheckFiles {
  cleaned: string;
  json: string;
  markdown: string;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

export function dataCheckMarkdown(
  report: DataCheckReport,
  sources: { train: string; test?: string },
): string {
  const counts = new Map<string, number>();
  for (const r of report.removed)
    counts.set(`${r.method} ${r.reason}`, (counts.get(`${r.method} ${r.reason}`) ?? 0) + 1);
  const lines = [
    '# Data check report',
    '',
    `- training set: ${sources.train} (${report.trainCount} records)`,
    `- test set: ${sources.test ?? '(none)'} (${report.testCount} records)`,
    `- methods: ${report.methods.join(', ')}; n-gram length ${report.options.ngram}, n-gram dedup share ≥ ${report.options.ngramDedupThreshold}`,
    report.methods.includes('embedding')
      ? `- embedding thresholds: duplicate when cosine > ${report.options.dedupThreshold}, contamination when cosine ≥ ${report.options.contaminationThreshold}`
      : '- embeddings: not used (pass --embed or --embed-base-url)',
    `- kept ${report.kept.length}, removed ${report.removed.length}`,
    ...[...counts].map(([k, v]) => `  - ${k}: ${v}`),
    '',
    '| line | reason | method | similarity | matched | text | matched text |',
    '| ---: | --- | --- | ---: | --- | --- | --- |',
    ...report.removed.map(
      (r) =>
        `| ${r.index + 1} | ${r.reason} | ${r.method} | ${r.similarity.toFixed(3)} | ${r.matchedSet} #${r.matchedIndex + 1} | ${cell(r.text)} | ${cell(r.matchedText)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** `trainLines`: the training file's non-blank lines, in record order. */
export function writeDataCheckReport(
  outputDir: string,
  report: DataCheckReport,
  trainLines: readonly string[],
  sources: { train: string; test?: string },
): DataCheckFiles {
  const files = {
    cleaned: join(outputDir, 'cleaned.jsonl'),
    json: join(outputDir, 'report.json'),
    markdown: join(outputDir, 'report.md'),
  };
  writeFileAtomically(files.cleaned, report.kept.map((i) => `${trainLines[i]}\n`).join(''));
  writeFileAtomically(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomically(files.markdown, dataCheckMarkdown(report, sources));
  return files;
}
