// Deterministic overlap checks on word n-grams (lower-cased, punctuation stripped).
// Dedup: an item is dropped when the share of its n-grams found in one earlier kept item is ≥ the
// threshold. Contamination: a training item is dropped when it shares any n-gram with a test item
// (GPT-3's 13-gram rule, Brown et al. 2020, appendix C). Texts shorter than n words count as one n-gram.
import type { Match } from './similarity';

export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

export function ngrams(text: string, n: number): Set<string> {
  const w = words(text);
  const out = new Set<string>();
  if (w.length === 0) return out;
  if (w.length < n) {
    out.add(w.join(' '));
    return out;
  }
  for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(' '));
  return out;
}

export function dedupByNgram(
  texts: readonly string[],
  n: number,
  threshold: number,
  candidates: readonly number[] = texts.map((_, i) => i),
): { kept: number[]; removed: Match[] } {
  const owners = new Map<string, number[]>();
  const kept: number[] = [];
  const removed: Match[] = [];
  for (const i of candidates) {
    const grams = ngrams(texts[i], n);
    const shared = new Map<number, number>();
    for (const g of grams)
      for (const owner of owners.get(g) ?? []) shared.set(owner, (shared.get(owner) ?? 0) + 1);
    let bestIndex = -1;
    let best = 0;
    for (const [owner, count] of shared) {
      if (count > best || (count === best && owner < bestIndex)) {
        best = count;
        bestIndex = owner;
      }
    }
    const overlap = grams.size > 0 ? best / grams.size : 0;
    if (bestIndex >= 0 && overlap >= threshold) {
      removed.push({ index: i, matchedIndex: bestIndex, similarity: overlap });
      continue;
    }
    kept.push(i);
    for (const g of grams) {
      const list = owners.get(g);
      if (list) list.push(i);
      else owners.set(g, [i]);
    }
  }
  return { kept, removed };
}

/** Training items (among `candidates`) sharing at least one n-gram with any test text. */
export function contaminationByNgram(
  trainTexts: readonly string[],
  testTexts: readonly string[],
  n: number,
  candidates: readonly number[] = trainTexts.map((_, i) => i),
): Array<Match & { ngram: string }> {
  const testOwner = new Map<string, number>();
  testTexts.forEach((text, t) => {
    for (const g of ngrams(text, n)) if (!testOwner.has(g)) testOwner.set(g, t);
  });
  const removed: Array<Match & { ngram: string }> = [];
  for (const i of candidates) {
    const grams = ngrams(trainTexts[i], n);
    let shared = 0;
    let first: { t: number; g: string } | undefined;
    for (const g of grams) {
      const t = testOwner.get(g);
      if (t === undefined) continue;
      shared++;
      first ??= { t, g };
    }
    if (first)
      removed.push({ index: i, matchedIndex: first.t, similarity: shared / grams.size, ngram: first.g });
  }
  return removed;
}
