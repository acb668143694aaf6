// Reads a book as text: a Project Gutenberg file loses its license header and footer, and
// hard-wrapped lines are joined into one line per paragraph (the chunker packs paragraphs by line).

export interface BookText {
  title: string | undefined;
  /** One paragraph per line. */
  text: string;
  /** Whether a Gutenberg header or footer was found and removed. */
  strippedHeader: boolean;
  strippedFooter: boolean;
}

const startMarker = /^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG/i;
const endMarker = /^\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG/i;
const legacyEnd = /^End of (the )?Project Gutenberg/i;

export function readBookText(raw: string): BookText {
  const lines = raw
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const title = lines
    .slice(0, 200)
    .find((line) => line.startsWith('Title:'))
    ?.slice('Title:'.length)
    .trim();
  let start = 0;
  let strippedHeader = false;
  const startIndex = lines.findIndex((line) => startMarker.test(line));
  if (startIndex !== -1) {
    // the marker may wrap onto following lines: it ends at the line holding the closing ***
    let closing = startIndex;
    while (closing < lines.length - 1 && !/\*{3}\s*$/.test(lines[closing])) closing++;
    start = closing + 1;
    strippedHeader = true;
  }
  let end = lines.length;
  let strippedFooter = false;
  const endIndex = lines.findIndex(
    (line, index) => index >= start && (endMarker.test(line) || legacyEnd.test(line)),
  );
  if (endIndex !== -1) {
    end = endIndex;
    strippedFooter = true;
  }
  const paragraphs = lines
    .slice(start, end)
    .join('\n')
    .split(/\n[ \t]*\n/)
    .map((paragraph) => paragraph.replace(/\s*\n\s*/g, ' ').trim())
    .filter((paragraph) => paragraph.length > 0);
  return { title, text: paragraphs.join('\n'), strippedHeader, strippedFooter };
}
