// Near-duplicate and contamination detection by cosine similarity of embeddings, as Platypus does it
// (data_pipeline/data_similarity.ipynb): dedup keeps an item only if its highest cosine to the items
// kept so far is ≤ the threshold (0.7); contamination drops, for each test item, its nearest training
// item when their cosine is ≥ the threshold (0.8).

export function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  norm = Math.sqrt(norm);
  const out = new Float32Array(vector.length);
  if (norm > 0) for (let i = 0; i < vector.length; i++) out[i] = vector[i] / norm;
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface Match {
  /** The removed item. */
  index: number;
  /** The item it matched (a kept training item, or a test item). */
  matchedIndex: number;
  similarity: number;
}

/** Greedy in input order; returns kept indices and the removed ones with their closest kept item. */
export function dedupByCosine(
  vectors: readonly Float32Array[],
  threshold: number,
  candidates: readonly number[] = vectors.map((_, i) => i),
): { kept: number[]; removed: Match[] } {
  const unit = new Map<number, Float32Array>();
  for (const i of candidates) unit.set(i, normalize(vectors[i]));
  const kept: number[] = [];
  const removed: Match[] = [];
  for (const i of candidates) {
    const v = unit.get(i) as Float32Array;
    let best = Number.NEGATIVE_INFINITY;
    let bestIndex = -1;
    for (const k of kept) {
      const s = dot(v, unit.get(k) as Float32Array);
      if (s > best) {
        best = s;
        bestIndex = k;
      }
    }
    if (bestIndex >= 0 && best > threshold)
      removed.push({ index: i, matchedIndex: bestIndex, similarity: best });
    else kept.push(i);
  }
  return { kept, removed };
}

/** For each test item, its nearest training item (among `candidates`) is removed when cosine ≥ threshold. */
export function contaminationByCosine(
  trainVectors: readonly Float32Array[],
  testVectors: readonly Float32Array[],
  threshold: number,
  candidates: readonly number[] = trainVectors.map((_, i) => i),
): Match[] {
  const train = candidates.map((i) => ({ i, v: normalize(trainVectors[i]) }));
  const removed = new Map<number, Match>();
  testVectors.forEach((testVector, t) => {
    const u = normalize(testVector);
    let best = Number.NEGATIVE_INFINITY;
    let bestIndex = -1;
    for (const { i, v } of train) {
      const s = dot(u, v);
      if (s > best) {
        best = s;
        bestIndex = i;
      }
    }
    if (bestIndex >= 0 && best >= threshold) {
      const previous = removed.get(bestIndex);
      if (!previous || previous.similarity < best)
        removed.set(bestIndex, { index: bestIndex, matchedIndex: t, similarity: best });
    }
  });
  return [...removed.values()].sort((a, b) => a.index - b.index);
}
