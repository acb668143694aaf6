// Selection (not sorting) for top-k thresholds over tensors of up to ~1e9 elements.
// `kthLargest` reorders its scratch array in place (introselect: median-of-three quickselect that
// falls back to a heap-free linear pass once the range is small).

/** The value of rank `k` (0-based) in descending order; reorders `values`. */
export function kthLargest(values: Float32Array, k: number): number {
  if (k < 0 || k >= values.length) throw new RangeError(`rank ${k} outside [0, ${values.length})`);
  // k-th largest == (n - 1 - k)-th smallest.
  return kthSmallest(values, values.length - 1 - k);
}

/** The value of rank `k` (0-based) in ascending order; reorders `values`. */
export function kthSmallest(values: Float32Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    if (right - left < 16) {
      insertionSort(values, left, right);
      return values[k]!;
    }
    const middle = (left + right) >>> 1;
    // median of three as pivot
    const a = values[left]!;
    const b = values[middle]!;
    const c = values[right]!;
    const pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    // three-way partition (Dijkstra): [left, lt) < pivot, [lt, gt] == pivot, (gt, right] > pivot
    let lt = left;
    let gt = right;
    let i = left;
    while (i <= gt) {
      const v = values[i]!;
      if (v < pivot) {
        values[i] = values[lt]!;
        values[lt] = v;
        lt++;
        i++;
      } else if (v > pivot) {
        values[i] = values[gt]!;
        values[gt] = v;
        gt--;
      } else i++;
    }
    if (k < lt) right = lt - 1;
    else if (k > gt) left = gt + 1;
    else return pivot;
  }
  return values[k]!;
}

function insertionSort(values: Float32Array, left: number, right: number): void {
  for (let i = left + 1; i <= right; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= left && values[j]! > v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
}

/** Linear-interpolated quantile (torch.quantile / numpy 'linear'), by selection; reorders `values`. */
export function quantile(values: Float32Array, q: number): number {
  const position = q * (values.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = kthSmallest(values, lower);
  if (upper === lower) return low;
  const high = kthSmallest(values, upper);
  return low + (high - low) * (position - lower);
}
