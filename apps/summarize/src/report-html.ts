// report.html: the summary with each confusing sentence highlighted and its questions and error
// types beside it, the score, and token, call and cost accounting. One self-contained file.
import type { SentenceAnnotation } from '@meld/booookscore';
import type { ScoreReport } from './score-report';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** Escaped text with blank lines as paragraph breaks. */
function prose(text: string): string {
  return escapeHtml(text)
    .replace(/\n\s*\n/g, '</p><p>')
    .replace(/\n/g, '<br>');
}

export function renderSummaryHtml(
  summary: string,
  sentences: readonly SentenceAnnotation[],
): { body: string; notes: string } {
  let cursor = 0;
  let body = '';
  let notes = '';
  let number = 0;
  for (const annotation of sentences) {
    const at = summary.indexOf(annotation.sentence, cursor);
    if (at === -1) continue;
    body += prose(summary.slice(cursor, at));
    const confusing = annotation.questions.length > 0 || annotation.types.length > 0;
    if (confusing) {
      number++;
      body += `<mark class="confusing" id="sentence-${number}" data-note="${number}">${escapeHtml(annotation.sentence)}<sup>${number}</sup></mark>`;
      const types = annotation.types.map((type) => `<span class="type">${escapeHtml(type)}</span>`).join(' ');
      const questions = annotation.questions.map((question) => `<li>${escapeHtml(question)}</li>`).join('');
      notes += `<li class="note" id="note-${number}" value="${number}"><div class="types">${types}</div><ul class="questions">${questions}</ul></li>`;
    } else {
      body += `<span class="sentence">${escapeHtml(annotation.sentence)}</span>`;
    }
    cursor = at + annotation.sentence.length;
  }
  body += prose(summary.slice(cursor));
  return { body: `<p>${body}</p>`, notes };
}

function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

export function renderReport(
  report: ScoreReport,
  summary: string,
  sentences: readonly SentenceAnnotation[],
): string {
  const { body, notes } = renderSummaryHtml(summary, sentences);
  const usage = report.usage;
  const rows: Array<[string, string]> = [
    ['Workflow', report.workflow === 'hier' ? 'hierarchical merging' : 'incremental updating'],
    ['Chunk size', `${formatNumber(report.chunkSize)} tokens (${report.tokenizer}), ${report.chunks} chunks`],
    ['Summariser', report.models.summarizer],
    ['Annotator', report.models.annotator],
    ['Sentences', `${report.sentences} (${report.splitter} splitter), ${report.confusing} confusing`],
    ['Model calls', formatNumber(usage.calls)],
    ['Prompt tokens', formatNumber(usage.promptTokens)],
    ['Completion tokens', formatNumber(usage.completionTokens)],
  ];
  if (usage.cost !== undefined) rows.push(['Cost', `$${usage.cost.toFixed(4)}`]);
  for (const model of usage.models) {
    const cost = model.cost === undefined ? '' : `, $${model.cost.toFixed(4)}`;
    rows.push([
      `&nbsp;&nbsp;${escapeHtml(model.modelId)}`,
      `${formatNumber(model.calls)} calls, ${formatNumber(model.promptTokens)} + ${formatNumber(model.completionTokens)} tokens${cost}`,
    ]);
  }
  const typeCounts = Object.entries(report.errorTypes)
    .map(([type, count]) => `<li><span class="type">${escapeHtml(type)}</span> ${count}</li>`)
    .join('');
  const title = escapeHtml(report.title ?? report.book);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BooookScore report: ${title}</title>
<style>
  body { font: 16px/1.6 Georgia, serif; margin: 0; color: #222; background: #fafaf7; }
  header { padding: 24px 32px; background: #243447; color: #fff; display: flex; align-items: center; gap: 32px; }
  header h1 { font-size: 22px; margin: 0; font-weight: normal; }
  .score { font: bold 44px/1 system-ui, sans-serif; }
  .score small { display: block; font-size: 12px; font-weight: normal; opacity: .8; letter-spacing: .05em; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 2fr); gap: 32px; padding: 24px 32px; }
  .summary p { margin: 0 0 1em; }
  mark.confusing { background: #ffe08a; border-bottom: 2px solid #e0a100; padding: 0 2px; }
  mark.confusing sup { font: bold 11px system-ui, sans-serif; color: #8a5a00; margin-left: 2px; }
  aside ol { padding-left: 24px; margin: 0; }
  .note { margin-bottom: 12px; font: 14px/1.4 system-ui, sans-serif; }
  .type { display: inline-block; font: 12px system-ui, sans-serif; background: #eef2f7; border: 1px solid #c9d3e0; border-radius: 10px; padding: 0 8px; margin: 0 4px 4px 0; }
  .questions { margin: 4px 0 0; padding-left: 18px; color: #444; }
  table { border-collapse: collapse; font: 14px system-ui, sans-serif; margin-top: 16px; }
  td { padding: 3px 12px 3px 0; vertical-align: top; }
  td:first-child { color: #555; }
  h2 { font: 600 15px system-ui, sans-serif; text-transform: uppercase; letter-spacing: .06em; color: #555; }
  ul.types { list-style: none; padding: 0; }
</style>
</head>
<body>
<header>
  <div class="score" id="score">${report.booookscore.toFixed(1)}<small>BOOOOKSCORE</small></div>
  <h1>${title}</h1>
</header>
<main>
  <section class="summary" id="summary">
    <h2>Summary</h2>
    ${body}
    <h2>Run</h2>
    <table id="stats">${rows.map(([name, value]) => `<tr><td>${name}</td><td>${escapeHtml(value)}</td></tr>`).join('')}</table>
  </section>
  <aside id="notes">
    <h2>Confusing sentences (${report.confusing} of ${report.sentences})</h2>
    <ol>${notes}</ol>
    <h2>Error types</h2>
    <ul class="types">${typeCounts}</ul>
  </aside>
</main>
</body>
</html>
`;
}
