import { describe, expect, it } from 'vitest';
import { renderReport, renderSummaryHtml } from './report-html';
import type { ScoreReport } from './score-report';

describe('report.html rendering', () => {
  it('highlights confusing sentences in order, repeated ones included, and escapes text', () => {
    const summary = 'Tom <b>wins</b>. Tom wins.\n\nThen "Rusty" & co. leave. Tom wins.';
    const sentences = [
      { sentence: 'Tom <b>wins</b>.', questions: [], types: [] },
      { sentence: 'Tom wins.', questions: ['Which race?'], types: ['event omission'] },
      { sentence: 'Then "Rusty" & co. leave.', questions: ['Who is <Rusty>?'], types: ['entity omission'] },
      { sentence: 'Tom wins.', questions: [], types: ['duplication'] },
    ];
    const { body, notes } = renderSummaryHtml(summary, sentences);
    expect(body).not.toContain('<b>');
    expect(body).toContain('Tom &#60;b&#62;wins&#60;/b&#62;.');
    expect(body.match(/<mark class="confusing"/g)).toHaveLength(3);
    expect(body).toContain('</p><p>');
    expect(body.indexOf('data-note="1"')).toBeLessThan(body.indexOf('data-note="2"'));
    expect(notes).toContain('Who is &#60;Rusty&#62;?');
    expect(notes.match(/<li class="note"/g)).toHaveLength(3);
  });

  it('shows the score, calls, tokens and cost', () => {
    const report: ScoreReport = {
      book: 'b',
      title: 'A <Title>',
      workflow: 'inc',
      chunkSize: 2048,
      chunks: 3,
      tokenizer: 'cl100k_base',
      splitter: 'intl',
      booookscore: 87.5,
      sentences: 8,
      confusing: 1,
      errorTypes: { salience: 1 },
      summaryWords: 100,
      models: { summarizer: 's', annotator: 'a' },
      usage: {
        calls: 12,
        promptTokens: 34567,
        completionTokens: 890,
        cost: 0.0123,
        models: [{ modelId: 's', calls: 12, promptTokens: 34567, completionTokens: 890, cost: 0.0123 }],
      },
      warnings: [],
    };
    const html = renderReport(report, 'One. Two.', []);
    expect(html).toContain('<title>BooookScore report: A &#60;Title&#62;</title>');
    expect(html).toContain('87.5<small>');
    expect(html).toContain('<td>Model calls</td><td>12</td>');
    expect(html).toContain('<td>Prompt tokens</td><td>34,567</td>');
    expect(html).toContain('<td>Cost</td><td>$0.0123</td>');
    expect(html).toContain('incremental updating');
  });
});
