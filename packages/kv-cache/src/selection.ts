// Shared selection helpers: which slots a head keeps given scores and protected windows.

/**
 * Indices (increasing) of the slots to keep out of `length`: the first `sinks` and last `recent` slots
 * always, then the highest `scores` among the rest until `target` slots are kept. Ties keep the earlier slot.
 */
export function selectKept(
  length: number,
  target: number,
  scores: ArrayLike<number> | undefined,
  sinks: number,
  recent: number,
): Int32Array {
  if (target >= length) return range(0, length);
  const sinkCount = Math.min(sinks, target);
  const recentCount = Math.min(recent, target - sinkCount);
  const middleStart = sinkCount;
  const middleEnd = length - recentCount;
  const middleKeep = target - sinkCount - recentCount;
  const keep = new Uint8Array(length);
  for (let i = 0; i < sinkCount; i++) keep[i] = 1;
  for (let i = middleEnd; i < length; i++) keep[i] = 1;
  if (middleKeep > 0) {
    for (const i of topIndices(scores, middleStart, middleEnd, middleKeep)) keep[i] = 1;
  }
  const kept = new Int32Array(target);
  let j = 0;
  for (let i = 0; i < length; i++) if (keep[i]) kept[j++] = i;
  return j === target ? kept : kept.subarray(0, j);
}

/** The `count` indices in [start, end) with the highest scores (earlier index wins ties); unordered. */
export function topIndices(
  scores: ArrayLike<number> | undefined,
  start: number,
  end: number,
  count: number,
): number[] {
  const size = end - start;
  if (count >= size) return rangeArray(start, end);
  if (count <= 0) return [];
  if (scores === undefined) return rangeArray(end - count, end);
  const evict = size - count;
  if (evict <= 8) {
    // Few evictions (decode steps): drop the lowest `evict` by repeated scans, O(size * evict).
    const dropped = new Uint8Array(size);
    for (let e = 0; e < evict; e++) {
      let worst = -1;
      let worstScore = Number.POSITIVE_INFINITY;
      for (let i = end - 1; i >= start; i--) {
        if (dropped[i - start]) continue;
        const s = scores[i] as number;
        if (s < worstScore || worst < 0) {
          worst = i;
          worstScore = s;
        }
      }
      dropped[worst - start] = 1;
    }
    const out: number[] = [];
    for (let i = start; i < end; i++) if (!dropped[i - start]) out.push(i);
    return out;
  }
  const order = rangeArray(start, end);
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  return order.slice(0, count);
}

/** Complement of sorted `kept` in [0, length), increasing. */
export function evictedIndices(length: number, kept: ArrayLike<number>): Int32Array {
  const out = new Int32Array(length - kept.length);
  let j = 0;
  let k = 0;
  for (let i = 0; i < length; i++) {
    if (k < kept.length && kept[k] === i) k++;
    else out[j++] = i;
  }
  return out;
}

export function range(start: number, end: number): Int32Array {
  const out = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

function rangeArray(start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i++) out.push(i);
  return out;
}
